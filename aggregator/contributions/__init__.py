"""The contribution figures: merged pull requests and lines with and without Claude Code, from what GitHub sent
(collector/github/) joined with the telemetry; migrations/0006_contributions.sql holds their tables."""

ATTRIBUTION_TABLE = "pull_request_attribution"
DAILY_TABLE = "daily_contributions"
CONTRIBUTION_TABLES = (ATTRIBUTION_TABLE, DAILY_TABLE)
