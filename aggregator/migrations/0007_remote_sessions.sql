-- Remote sessions (Claude Code on the web) and local ones are separate rows of a member's day, as in Anthropic's
-- Admin API (one record per actor, day and is_remote); daily_user also keeps the member-day's subscription tier.
-- The new column joins the end of the sorting key in the ALTER that adds it (ClickHouse allows no DEFAULT there:
-- a UInt8 is 0 without one, so older rows are local). Re-running the file changes nothing.
ALTER TABLE $database.daily_user $on_cluster ADD COLUMN IF NOT EXISTS is_remote UInt8 COMMENT 'the row counts the member''s remote sessions (ccr.session.id) that day, else the local ones', MODIFY ORDER BY (org_id, day, user_key, is_remote);
ALTER TABLE $database.daily_user $on_cluster ADD COLUMN IF NOT EXISTS subscription_type LowCardinality(String) COMMENT 'the anthropic.plan of the member''s latest record that day naming a plan, when it is team or enterprise; else empty (API customers, pro and max)';
ALTER TABLE $database.daily_model $on_cluster ADD COLUMN IF NOT EXISTS is_remote UInt8, MODIFY ORDER BY (org_id, day, user_key, model, is_remote);
ALTER TABLE $database.daily_edit_tool $on_cluster ADD COLUMN IF NOT EXISTS is_remote UInt8, MODIFY ORDER BY (org_id, day, user_key, tool_name, language, is_remote);
