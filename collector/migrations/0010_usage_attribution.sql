-- What caused a request's cost and tokens (cost.usage and token.usage points of Claude Code 2.1.3xx): typed
-- columns computed from the attributes map when a row is written, so the rollup's read of every cost and token
-- point groups by them without reading the wide map. Empty where a point does not carry the attribute.
ALTER TABLE $database.metric_points $on_cluster ADD COLUMN IF NOT EXISTS query_source LowCardinality(String) MATERIALIZED attributes['query_source'];
ALTER TABLE $database.metric_points $on_cluster ADD COLUMN IF NOT EXISTS agent_name LowCardinality(String) MATERIALIZED attributes['agent.name'];
ALTER TABLE $database.metric_points $on_cluster ADD COLUMN IF NOT EXISTS skill_name LowCardinality(String) MATERIALIZED attributes['skill.name'];
ALTER TABLE $database.metric_points $on_cluster ADD COLUMN IF NOT EXISTS plugin_name LowCardinality(String) MATERIALIZED attributes['plugin.name'];
ALTER TABLE $database.metric_points $on_cluster ADD COLUMN IF NOT EXISTS mcp_server_name LowCardinality(String) MATERIALIZED attributes['mcp_server.name'];
ALTER TABLE $database.metric_points $on_cluster ADD COLUMN IF NOT EXISTS mcp_tool_name LowCardinality(String) MATERIALIZED attributes['mcp_tool.name'];
