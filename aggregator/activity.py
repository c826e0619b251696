"""Activity rows: what a rollup run reads from the raw tables into its staging table, already grouped.

A run covers one or more consecutive days, [run_start, run_end) in ns; each record goes to its day in the
aggregation time zone. One row per (day, org, user key, is_remote, session, and the metric's attributes the
figures break down by: type, model, tool, decision, language, and the repository: the raw tables' typed column) for
metric points, per (day, org, user key, is_remote, session, event name, repository) for events, with what the group
adds (`delta`: the sum of what its points added) and how many records it holds; the figures (aggregator.figures) are
aggregates over these rows. Grouping in the read keeps the staging table small (about 179,000 rows for the
benchmark's day of 10M records).

Metric handling (telemetry reference, section 3):
- delta points add their value (every temporality but cumulative, as before: gauges and unspecified too);
- a cumulative series is keyed by its org, metric, attributes, resource, scope and START TIME, so a resumed
  session (new process, same session.id) and two processes sharing a session.id are separate series; each point
  adds its increase over the series' previous point, or its whole value after a decrease (a counter reset). A
  series is read back to `lookback` so the first day of a run still has its previous point;
- a retried export is stored once (the raw tables are ReplacingMergeTree on the whole record, read with FINAL).

A member's team is that of their latest record naming one: the team resource attribute, else the record's team
attribute. Record attributes are by far the widest column, so the reads take the resource's team only, and note
the latest record without one; TEAM_FROM_ATTRIBUTES reads the record attributes only when such a record is later
than the member's latest resource team (Claude Code puts OTEL_RESOURCE_ATTRIBUTES on the resource, so rarely).

A record is remote (Claude Code on the web) when it carries ccr.session.id, and the plan is its anthropic.plan:
both the raw tables' typed columns (collector migration 0008), so no read touches the attributes map for them.
Each group notes its latest plan; the rollup takes the member-day's latest, as for the team and the terminal.
"""

from __future__ import annotations

from collector.decode.common import MAX_POINT_VALUE

STAGING_COLUMNS = """
    day Date, org_id String, user_key String, is_remote UInt8, session_id String,
    metric_name String, type String, model String, tool_name String, decision String, language String,
    repository String,
    query_source String, agent_name String, skill_name String, plugin_name String, mcp_server_name String,
    mcp_tool_name String,
    event_name String, delta Float64, record_count UInt64, record_count_without_email UInt64,
    user_email String, user_account_uuid String, user_id String,
    team String, team_time DateTime64(9, 'UTC'), untagged_time DateTime64(9, 'UTC'),
    terminal_type String, terminal_time DateTime64(9, 'UTC'), plan String, plan_time DateTime64(9, 'UTC')
"""

# Implied by the timestamp bounds, but stated on the sort key's toDate(timestamp) (UTC) so the primary index skips
# the rest of the month's partition: without it a run reads every granule of its month.
_SORTED_DAYS = "toDate(timestamp) BETWEEN {{{first}:Date}} AND {{last_utc_day:Date}}"

# A PREWHERE: the copies of one record share its timestamp, so filtering before FINAL's merge keeps or drops them
# together, and FINAL merges only the run's rows instead of all those of the granules the index leaves.
_IN_RUN = ("timestamp >= fromUnixTimestamp64Nano({run_start:Int64}) "
           "AND timestamp < fromUnixTimestamp64Nano({run_end:Int64}) AND "
           + _SORTED_DAYS.format(first="first_utc_day"))

# A point counts only when its value is finite and within [0, MAX_POINT_VALUE]: NaN, infinities, negative values on
# these monotonic counters and absurd magnitudes (the decoder refuses them; other writers or older rows may hold
# them) are left out of the rollup whole, so no figure is NaN, wraps, or makes the run fail for every org.
USABLE_VALUE = f"isFinite(value) AND value BETWEEN 0 AND {float(MAX_POINT_VALUE)}"

# The characters kept of a text the rollups group by and /metrics publishes as a label value (a team, a usage
# name; a repository is cut alike by collector migration 0009): the collector keeps attribute values of up to
# --max-attribute-value-length (64 KiB), and one client's long values would make /metrics megabytes.
LONGEST_LABEL = 256
_RESOURCE_TEAM = f"leftUTF8(resource_attributes[{{team_key:String}}], {LONGEST_LABEL}) AS resource_team"

# The columns a group has whatever its kind, and what its records give them; duplicates of a record change none
# of the latest-of and max values, only the counts.
_GROUP_COLUMNS = ("record_count, record_count_without_email, user_email, user_account_uuid, user_id, "
                  "team, team_time, untagged_time, terminal_type, terminal_time, plan, plan_time")
_GROUP_VALUES = """count(), countIf(user_email = ''), max(user_email), max(user_account_uuid), max(user_id),
       argMaxIf(resource_team, timestamp, resource_team != ''), maxIf(timestamp, resource_team != ''),
       maxIf(timestamp, resource_team = ''),
       argMaxIf(terminal_type, timestamp, terminal_type != ''), maxIf(timestamp, terminal_type != ''),
       argMaxIf(plan, timestamp, plan != ''), maxIf(timestamp, plan != '')"""

_RECORD = ("org_id, user_key, is_remote, user_email, user_account_uuid, user_id, session_id, terminal_type, plan, "
           "timestamp")
_DAY = "toDate(timestamp, {zone:String}) AS day"
# What caused a cost or token point (aggregator/usage.py): typed columns of collector migration 0010, so grouping by
# them reads no attributes map; empty on every other point.
ATTRIBUTION_KEY = "query_source, agent_name, skill_name, plugin_name, mcp_server_name, mcp_tool_name"
_POINT_KEY = ("org_id, user_key, is_remote, session_id, metric_name, type, model, tool_name, decision, language, "
              "repository, " + ATTRIBUTION_KEY)
_POINT = (f"{_RECORD}, metric_name, type, model, tool_name, decision, language, repository, {ATTRIBUTION_KEY}, "
          f"value, {_RESOURCE_TEAM}")

DELTA_POINTS = f"""
INSERT INTO {{staging}} (day, {_POINT_KEY}, delta, {_GROUP_COLUMNS})
SELECT {_DAY}, {_POINT_KEY}, sum(value), {_GROUP_VALUES}
FROM (SELECT {_POINT} FROM {{database}}.metric_points FINAL
      PREWHERE temporality != 'cumulative' AND {_IN_RUN} AND {USABLE_VALUE})
GROUP BY day, {_POINT_KEY}
"""

# Only cumulative points go through the window; PREWHERE reads the rest of their columns for them alone (the copies
# of a record share their temporality too).
CUMULATIVE_POINTS = f"""
INSERT INTO {{staging}} (day, {_POINT_KEY}, delta, {_GROUP_COLUMNS})
SELECT {_DAY}, {_POINT_KEY}, sum(if(increase < 0, value, increase)), {_GROUP_VALUES}
FROM
(
    SELECT *, value - if(row_number() OVER series = 1, 0, lagInFrame(value) OVER series) AS increase
    FROM
    (
        SELECT {_POINT},
               cityHash64(org_id, metric_name, temporality, attributes, resource_attributes, scope_name,
                          start_timestamp) AS series_hash
        FROM {{database}}.metric_points FINAL
        PREWHERE temporality = 'cumulative' AND timestamp >= fromUnixTimestamp64Nano({{lookback:Int64}})
          AND timestamp < fromUnixTimestamp64Nano({{run_end:Int64}})
          AND {_SORTED_DAYS.format(first="lookback_utc_day")} AND {USABLE_VALUE}
    )
    WINDOW series AS (PARTITION BY series_hash ORDER BY timestamp
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
WHERE timestamp >= fromUnixTimestamp64Nano({{run_start:Int64}})
GROUP BY day, {_POINT_KEY}
"""

EVENTS = f"""
INSERT INTO {{staging}} (day, org_id, user_key, is_remote, session_id, event_name, repository, {_GROUP_COLUMNS})
SELECT {_DAY}, org_id, user_key, is_remote, session_id, event_name, repository, {_GROUP_VALUES}
FROM (SELECT {_RECORD}, event_name, repository, {_RESOURCE_TEAM} FROM {{database}}.events FINAL PREWHERE {_IN_RUN})
GROUP BY day, org_id, user_key, is_remote, session_id, event_name, repository
"""

# Members whose latest record without a resource team is later than their latest resource team.
MEMBERS_UNTAGGED_LATE = """
SELECT count() FROM (SELECT day, org_id, user_key FROM {staging} GROUP BY day, org_id, user_key
                     HAVING max(untagged_time) > max(team_time))
"""

# The record attribute team of records without a resource team, as rows that add nothing but a team. No FINAL:
# a duplicate record does not change which is latest.
_ATTRIBUTE_TEAM = f"""
SELECT org_id, user_key, is_remote, timestamp,
       leftUTF8(attributes[{{team_key:String}}], {LONGEST_LABEL}) AS attribute_team
FROM {{database}}.{{table}}
PREWHERE {_IN_RUN} AND resource_attributes[{{team_key:String}}] = ''
"""

TEAM_FROM_ATTRIBUTES = f"""
INSERT INTO {{staging}} (day, org_id, user_key, is_remote, team, team_time)
SELECT {_DAY}, org_id, user_key, is_remote, argMaxIf(attribute_team, timestamp, attribute_team != ''),
       maxIf(timestamp, attribute_team != '')
FROM ({_ATTRIBUTE_TEAM.replace("{table}", "events")} UNION ALL {_ATTRIBUTE_TEAM.replace("{table}", "metric_points")})
GROUP BY day, org_id, user_key, is_remote
"""
