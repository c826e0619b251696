-- The repository a record was made in, as Claude Code 2.1.3xx reports it with OTEL_METRICS_INCLUDE_REPOSITORY=1
-- (vcs.owner.name and vcs.repository.name on every datapoint and event, from the git origin): owner/name
-- lower-cased, the key of the github_* tables' repository, cut to 256 characters; '' when either part is missing.
-- MATERIALIZED: computed at insert (and on read for older parts), so the decoders and the write-ahead log are
-- unchanged, and the rollups and the contribution reads share this one definition.
ALTER TABLE $database.events $on_cluster ADD COLUMN IF NOT EXISTS repository LowCardinality(String) MATERIALIZED if(attributes['vcs.owner.name'] != '' AND attributes['vcs.repository.name'] != '', leftUTF8(lowerUTF8(concat(attributes['vcs.owner.name'], '/', attributes['vcs.repository.name'])), 256), '') COMMENT 'vcs.owner.name/vcs.repository.name, lower-cased; empty when not reported';
ALTER TABLE $database.metric_points $on_cluster ADD COLUMN IF NOT EXISTS repository LowCardinality(String) MATERIALIZED if(attributes['vcs.owner.name'] != '' AND attributes['vcs.repository.name'] != '', leftUTF8(lowerUTF8(concat(attributes['vcs.owner.name'], '/', attributes['vcs.repository.name'])), 256), '') COMMENT 'vcs.owner.name/vcs.repository.name, lower-cased; empty when not reported';
