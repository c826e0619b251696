"""The one typed configuration object, built once from command-line flags and the environment.

Every option is a flag and an environment variable (CC_ANALYTICS_<NAME>); a flag wins over the environment,
the environment over the default. Nothing else in the code base reads os.environ.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plumbing.tls import TlsFiles
from collector.decode.privacy import PrivacyPolicy
from collector.github.orgs import OrgPolicy
from aggregator.contributions.identity import load_identity_map
from aggregator.refresh import DEFAULT_MAX_DAYS_PER_RUN, MIN_DAYS_PER_RUN

ENV_PREFIX = "CC_ANALYTICS_"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    grpc_port: int = 4317
    http_port: int = 4318
    api_port: int = 9464
    data_dir: str = "./cc-analytics-data"
    clickhouse_url: str = ""
    database: str = "cc_analytics"
    cluster: str = ""
    raw_ttl_days: int = 400
    default_org_id: str = "default"
    batch_max_rows: int = 50_000
    batch_max_delay_ms: int = 200
    queue_dir: str = ""
    queue_max_bytes: int = 1024**3
    queue_memory_rows: int = 30_000
    queue_sync: bool = True
    auth_tokens: str = ""
    allowed_hosts: str = ""
    session_hours: int = 12
    sql_endpoint: bool = True
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    api_token: str = ""
    max_connections: int = 0  # 0: a share of the open-file limit, see CONNECTION_OPTIONS
    header_timeout: int = 20
    idle_timeout: int = 75
    max_request_bytes: int = 16 * 1024 * 1024
    max_attribute_value_length: int = 65_536
    max_attributes_per_record: int = 512
    max_records_per_request: int = 100_000
    max_attributes_per_request: int = 1_000_000
    decode_workers: int = min(2, os.cpu_count() or 1)
    decode_queue_bytes: int = 64 * 1024 * 1024
    store_prompts: bool = False
    hash_emails: bool = False
    email_hash_salt: str = field(default="", repr=False)  # a secret: kept out of logs and tracebacks
    aggregate_interval: int = 60
    aggregate_max_days: int = DEFAULT_MAX_DAYS_PER_RUN
    timezone: str = "UTC"
    team_attribute: str = "team"
    usage_metrics: bool = True
    max_user_series: int = 10_000
    max_label_values: int = 200
    max_usage_names: int = 20
    hash_user_labels: bool = False
    log_level: str = "info"
    log_format: str = "text"
    github_webhook_secret_file: str = ""
    github_orgs: str = ""
    github_token_file: str = ""
    github_api_url: str = "https://api.github.com"
    github_fetch_interval: int = 60
    github_label_prs: bool = False
    identity_map: str = ""

    @property
    def tls(self) -> TlsFiles | None:
        return TlsFiles(self.tls_cert, self.tls_key, self.tls_client_ca) if self.tls_cert else None

    @property
    def queue_path(self) -> str:
        return self.queue_dir or os.path.join(self.data_dir, "queue")

    @property
    def uses_embedded_store(self) -> bool:
        return not self.clickhouse_url

    @property
    def allowed_host_names(self) -> frozenset[str]:
        return frozenset(name.strip().lower() for name in self.allowed_hosts.split(",") if name.strip())

    @property
    def github_org_policy(self) -> OrgPolicy:
        """Whose org a GitHub owner's rows go to; with --auth-tokens, only owners listed in --github-orgs."""
        return OrgPolicy(dict(_owner_and_org(pair) for pair in self.github_orgs.split(",") if pair.strip()),
                         self.default_org_id, owners_must_be_listed=bool(self.auth_tokens))

    @property
    def privacy(self) -> PrivacyPolicy:
        return PrivacyPolicy(self.store_prompts, self.hash_emails, self.email_hash_salt,
                             dimension_keys=frozenset({self.team_attribute}))


@dataclass(frozen=True)
class Option:
    field: str
    help: str
    parse: Callable[[str], object] = str
    metavar: str | None = None
    switch: bool = False  # a bare flag that means yes (its environment variable takes yes/no)

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.field.upper()


def _owner_and_org(pair: str) -> tuple[str, str]:
    owner, _, org = pair.partition("=")
    return owner.strip().lower(), org.strip()


def _github_orgs(text: str) -> str:
    for pair in (pair for pair in text.split(",") if pair.strip()):
        owner, org = _owner_and_org(pair)
        if "=" not in pair or not owner or not org:
            raise ValueError(f"{pair.strip()!r} is not GITHUB_OWNER=ORG_ID")
    return text


def _url(text: str) -> str:
    if not text.startswith(("https://", "http://")):
        raise ValueError("give an http:// or https:// URL")
    return text.rstrip("/")


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is outside 0..65535")
    return port


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"{value} must be a positive integer")
    return value


def _days_per_run(text: str) -> int:
    value = int(text)
    if value < MIN_DAYS_PER_RUN:
        raise ValueError(f"{value} is below {MIN_DAYS_PER_RUN}: today, yesterday and at least one late day")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"{value} must be zero or a positive integer")
    return value


def _yes_no(text: str) -> bool:
    answer = text.strip().lower()
    if answer in ("yes", "true", "1", "on"):
        return True
    if answer in ("no", "false", "0", "off"):
        return False
    raise ValueError("use yes or no")


def _identity_map_file(path: str) -> str:
    load_identity_map(path)  # a bad file stops serve and aggregate at start, with its line (IdentityMapError)
    return path


def _time_zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r}; use an IANA name such as UTC, Europe/Berlin or "
                         "America/New_York") from None
    return text


def _attribute_key(text: str) -> str:
    if not text.strip():
        raise ValueError("the attribute key must not be empty")
    return text


def _log_format(text: str) -> str:
    if text not in ("text", "json"):
        raise ValueError("use text or json")
    return text


def _log_level(text: str) -> str:
    level = text.lower()
    if level not in ("debug", "info", "warning", "error"):
        raise ValueError(f"unknown log level {text!r} (debug, info, warning, error)")
    return level


# Grouped by the subcommands that use them; the parser adds each group to the commands that need it.
NETWORK_OPTIONS = (
    Option("host", "Address the receivers and the API bind to. Keep 127.0.0.1 unless clients connect "
                   "from other machines; then use 0.0.0.0 (and put auth and TLS in front).", metavar="ADDR"),
    Option("grpc_port", "Port of the OTLP/gRPC receiver (logs, metrics, traces).", _port, "PORT"),
    Option("http_port", "Port of the OTLP/HTTP receiver: POST /v1/logs, /v1/metrics, /v1/traces.", _port, "PORT"),
    Option("api_port", "Port of the read API (/api/v1/..., /healthz).", _port, "PORT"),
)

# Like a reverse proxy's limits, so idle and slow clients cannot take the descriptors the store needs.
CONNECTION_OPTIONS = (
    Option("max_connections", "Most connections open at once on each of the gRPC, OTLP/HTTP and API ports. At the "
                              "cap a new HTTP connection closes the one idle longest (or is closed at once when all "
                              "are in requests); a new gRPC connection is closed at once. 0: half the open-file "
                              "limit (serve raises it to the hard limit) split between the three ports, the other "
                              "half kept for the store and the write-ahead queue.", _non_negative, "N"),
    Option("header_timeout", "Seconds a connection has to send a request's headers complete, from its accept or "
                             "from the first byte after a response (slowloris); then it is closed. On gRPC, the "
                             "time to open the HTTP/2 connection.", _positive, "SECONDS"),
    Option("idle_timeout", "Seconds a connection may wait with no request in progress (HTTP keep-alive, gRPC "
                           "with no call) before it is closed; clients reconnect when they next export.",
           _positive, "SECONDS"),
)

ACCESS_OPTIONS = (
    Option("auth_tokens", "File of `ORG_ID TOKEN` lines. With it, exports need Authorization: Bearer TOKEN (gRPC "
                          "UNAUTHENTICATED, HTTP 401 otherwise) and are stored under the token's org whatever "
                          "organization.id they carry; the API needs a token too and an org's token reads only its "
                          "org (org * marks an admin token: every org, SQL, aggregation, /metrics). A line "
                          "`ORG_ID TOKEN member=EMAIL` is a member token: it reads only that member's own figures "
                          "and stores nothing. Browsers sign in with a token at /signin.", metavar="FILE"),
    Option("session_hours", "Hours a browser stays signed in after /signin (sessions are kept in memory: a restart "
                            "signs everyone out).", _positive, "HOURS"),
    Option("allowed_hosts", "Without --auth-tokens the API answers only requests addressed to an IP address or "
                            "to localhost (a web page that points a name of its own at this machine, DNS "
                            "rebinding, could read and change everything); list here, comma-separated, the other "
                            "names people reach it by.", metavar="NAMES"),
    Option("sql_endpoint", "Answer read-only SQL on POST /api/v1/query (what `cc-analytics query` uses while serve runs): "
                  "yes or no. It runs one SELECT that cannot write or reach files, the network or other "
                  "processes, its result bounded; with --auth-tokens only an admin token may call it.",
           _yes_no, "YES|NO"),
    Option("tls_cert", "PEM certificate (chain) of the OTLP receivers; with --tls-key, gRPC and HTTP speak TLS "
                       "only.", metavar="FILE"),
    Option("tls_key", "PEM private key of --tls-cert.", metavar="FILE"),
    Option("tls_client_ca", "PEM CA bundle: with it, mutual TLS: a client must present a certificate this CA "
                            "signed, or its handshake fails.", metavar="FILE"),
    *CONNECTION_OPTIONS,
)

CLIENT_OPTIONS = (
    Option("api_token", "Token sent to a running serve's API (Authorization: Bearer) when serve has "
                        "--auth-tokens; an admin token for aggregate and export.", metavar="TOKEN"),
)

STORE_OPTIONS = (
    Option("data_dir", "Directory of the embedded chDB store, used when no --clickhouse-url is given. "
                       "One process owns a store at a time.", metavar="DIR"),
    Option("clickhouse_url", "URL of a ClickHouse server instead of the embedded store, "
                             "e.g. http://user:password@clickhouse:8123 (https for TLS).", metavar="URL"),
    Option("database", "ClickHouse database that holds the cc-analytics tables.", metavar="NAME"),
    Option("cluster", "ClickHouse cluster name: DDL runs ON CLUSTER and tables use Replicated engines. "
                      "Empty for a single server or the embedded store.", metavar="NAME"),
    Option("raw_ttl_days", "Days raw events, metric points and spans are kept (0 keeps them forever). "
                           "A change applies to existing tables at the next migrate or serve.", _non_negative, "DAYS"),
)

INGEST_OPTIONS = (
    Option("default_org_id", "Organization id for records that carry no organization.id "
                             "(API-key, Bedrock and Vertex users).", metavar="ID"),
    Option("batch_max_rows", "Rows that make a write batch full; a full batch is inserted at once.", _positive, "ROWS"),
    Option("batch_max_delay_ms", "Longest a record waits for other records to share its insert (clients are "
                                 "answered once it is in the write-ahead queue, before the insert).",
           _non_negative, "MS"),
    Option("queue_dir", "Directory of the write-ahead queue: every acknowledged request is kept there until its "
                        "rows are in the store, and replayed on start. Default: DATA_DIR/queue. One collector "
                        "process per directory.", metavar="DIR"),
    Option("queue_max_bytes", "Most bytes the write-ahead queue holds (a store outage fills it); past it, exports "
                              "get UNAVAILABLE (gRPC) or 503 (HTTP) with Retry-After, and clients retry.",
           _positive, "BYTES"),
    Option("queue_memory_rows", "Most decoded rows kept in memory for the writer; past it, queued requests are "
                                "read back from disk and decoded again when the store takes them.", _positive, "ROWS"),
    Option("queue_sync", "fdatasync the write-ahead queue before acknowledging: yes or no. No still survives a "
                         "crash of the process, not of the machine.", _yes_no, "YES|NO"),
    Option("max_request_bytes", "Largest export request accepted, after decompression; larger ones get "
                                "413 (HTTP) or RESOURCE_EXHAUSTED (gRPC).", _positive, "BYTES"),
    Option("max_attribute_value_length", "Longest attribute value kept, in characters; longer values are "
                                         "truncated and counted in the response's partial_success message.",
           _positive, "CHARS"),
    Option("max_attributes_per_record", "Most attributes kept per record; the rest are dropped and counted.",
           _positive, "N"),
    Option("max_records_per_request", "Most records one export request may carry (log records, spans, metric "
                                      "data points, and its resource and scope blocks); a larger one is refused "
                                      "whole with 413 (HTTP) or RESOURCE_EXHAUSTED (gRPC), before it is decoded.",
           _positive, "N"),
    Option("max_attributes_per_request", "Most attributes one export request may carry (of its resources, scopes "
                                         "and records); a larger one is refused like one over "
                                         "--max-records-per-request.", _positive, "N"),
    Option("decode_workers", "Processes that decompress, parse and decode export requests, so the event loop "
                             "answering every client never does (default: 2, or 1 on a 1-core machine). 0: one "
                             "thread of serve instead (for debugging).", _non_negative, "N"),
    Option("decode_queue_bytes", "Most bytes of export requests waiting for or in decoding; past it a request "
                                 "gets 503 with Retry-After (HTTP) or UNAVAILABLE with RetryInfo (gRPC), which the "
                                 "OpenTelemetry exporters retry. One request alone is always taken.",
           _positive, "BYTES"),
)

# Who a record is about: what ingest stores and what `purge --user` must look for.
EMAIL_OPTIONS = (
    Option("hash_emails", "Store a keyed hash (hmac-sha256:<32 hex digits>) instead of each user.email, in every "
                          "column and attribute map; per-member figures stay exact (the same email always gives "
                          "the same hash) and reports name members by it.", _yes_no, switch=True),
    Option("email_hash_salt", "Secret key of --hash-emails, so that a known email cannot simply be hashed and "
                              "looked up. It must stay the same for good: another salt gives every member a new "
                              "key. Prefer the environment variable to the flag, which other users can see in ps.",
           metavar="SECRET"),
)

PRIVACY_OPTIONS = (
    Option("store_prompts", "Store the text Claude Code sends with its OTEL_LOG_* content flags: prompts, "
                            "responses, tool commands, file content, API bodies. Without it every value but "
                            "identifiers, names, numbers and the resource's own tags is stored as "
                            "<redacted length=N sha256=HEX>: its length in characters and the SHA-256 of its "
                            "UTF-8 bytes.", _yes_no, switch=True),
    *EMAIL_OPTIONS,
)

AGGREGATE_OPTIONS = (
    Option("timezone", "Time zone of the day boundaries of every daily figure (an IANA name). After a change, "
                       "re-run `cc-analytics aggregate` over the days to rebuild.", _time_zone, "ZONE"),
    Option("team_attribute", "Resource attribute that names a user's team (set on clients with "
                             "OTEL_RESOURCE_ATTRIBUTES=team=payments).", _attribute_key, "KEY"),
)

SCHEDULE_OPTIONS = (
    Option("aggregate_interval", "Seconds between re-aggregations of today, yesterday and days that received "
                                 "late records; 0 turns the timer off.", _non_negative, "SECONDS"),
    Option("aggregate_max_days", "Most days one timer run rebuilds, today and yesterday included (at least "
                                 f"{MIN_DAYS_PER_RUN}, default {DEFAULT_MAX_DAYS_PER_RUN}); further days with late "
                                 "records wait for the next runs, oldest first and in turn between orgs "
                                 "(cc_analytics_rollup_backlog counts them).", _days_per_run, "DAYS"),
)

MEMBER_SERIES_OPTIONS = (
    Option("max_user_series", "Most members with per-member series on /metrics (the top ones by lines accepted "
                              "this month); the rest are summed into user=\"other\" per team and counted in "
                              "cc_analytics_label_values_folded{dimension=\"user\"}.", _positive, "N"),
    Option("max_label_values", "Most values of each other label on /metrics and in exports: orgs and (org, team) "
                               "pairs by sessions, models of a team by cost, tools and languages of a team by edit "
                               "decisions, repositories of an org by lines accepted; the rest are summed into "
                               "\"other\" and counted in cc_analytics_label_values_folded. Also the most orgs in "
                               "cc_analytics_org_last_record_timestamp_seconds (the latest).", _positive, "N"),
    Option("max_usage_names", "Most names per org, team and kind in the cc_analytics_usage_ families of /metrics "
                              "and exports (skills, MCP servers and tools, agents, tools ...; the top ones by "
                              "uses); the rest are summed into name=\"other\" and counted in "
                              "cc_analytics_label_values_folded{dimension=\"usage_name\"}.", _positive, "N"),
    Option("hash_user_labels", "Publish a stable hash of each member's email instead of the email in the user "
                               "label of /metrics and exports.", _yes_no, switch=True),
)

METRICS_OPTIONS = (
    Option("usage_metrics", "Publish the Claude Code usage figures (read from the rollups) on /metrics: yes or no. "
                            "Say no on collector replicas so only one process publishes them and Prometheus "
                            "sums do not double; their own health metrics are always published.", _yes_no, "YES|NO"),
    *MEMBER_SERIES_OPTIONS,
)

# GitHub, for the contribution figures (collector/github/, aggregator/contributions/).
# Which org a repository owner's rows go to: the webhook and the backfill alike.
GITHUB_ORG_OPTIONS = (
    Option("github_orgs", "Which cc-analytics org each GitHub owner's repositories belong to, comma-separated "
                          "GITHUB_OWNER=ORG_ID pairs. Owners not listed go to --default-org-id; with --auth-tokens "
                          "they must be listed, or their deliveries are refused (422) until they are.",
           _github_orgs, "OWNER=ORG,..."),
)

GITHUB_WEBHOOK_OPTIONS = (
    Option("github_webhook_secret_file", "File of the secret(s) GitHub signs webhook deliveries with, one per line "
                                         "(two during a rotation); a line @OWNER SECRET signs only that repository "
                                         "owner's deliveries (one secret per GitHub organization). With it, serve "
                                         "accepts POST /github/webhook on the API port; a delivery without a valid "
                                         "X-Hub-Signature-256 gets 401.",
           metavar="FILE"),
    *GITHUB_ORG_OPTIONS,
)

GITHUB_API_OPTIONS = (
    Option("github_token_file", "File holding a GitHub token that can read the repositories' pull requests and "
                                "commits. With it, merged PRs' commits and files are fetched from the REST API and "
                                "lines are effective lines; without it only what webhooks carry is used, and the "
                                "figures say so.", metavar="FILE"),
    Option("github_api_url", "Base URL of the GitHub REST API (GitHub Enterprise Server: "
                             "https://HOST/api/v3).", _url, "URL"),
)

GITHUB_SERVE_OPTIONS = (
    *GITHUB_WEBHOOK_OPTIONS,
    *GITHUB_API_OPTIONS,
    Option("github_fetch_interval", "Seconds between passes of the REST fetcher over merged PRs still to fetch "
                                    "(with --github-token-file).", _positive, "SECONDS"),
    Option("github_label_prs", "Add the label claude-code-assisted to merged PRs attributed with Claude Code "
                               "(needs a --github-token-file token that may write issues).", _yes_no, switch=True),
)

IDENTITY_OPTIONS = (
    Option("identity_map", "CSV of email,github_login,team[,from] rows: who a GitHub login is and which team "
                           "they are in (from YYYY-MM-DD on, when a person changes teams). Commit author emails "
                           "equal to user.email need no row.", _identity_map_file, "FILE"),
)

LOGGING_OPTIONS = (
    Option("log_level", "Log verbosity: debug, info, warning or error.", _log_level, "LEVEL"),
    Option("log_format", "text (for people) or json (one object per line: time, level, logger, message).",
           _log_format, "FORMAT"),
)


def add_options(parser: argparse.ArgumentParser, options: tuple[Option, ...], title: str) -> None:
    group = parser.add_argument_group(title)
    defaults = Settings()
    for option in options:
        default = getattr(defaults, option.field)
        shown = ("yes" if default else "no") if isinstance(default, bool) else (default if default != "" else "unset")
        help_text = f"{option.help} [env {option.env}; default {shown}]"
        if option.switch:
            group.add_argument(option.flag, dest=option.field, default=None, action="store_const", const="yes",
                               help=help_text)
        else:
            group.add_argument(option.flag, dest=option.field, default=None, metavar=option.metavar,
                               help=help_text)


ALL_OPTIONS = (NETWORK_OPTIONS + ACCESS_OPTIONS + CLIENT_OPTIONS + STORE_OPTIONS + INGEST_OPTIONS + PRIVACY_OPTIONS
               + AGGREGATE_OPTIONS + SCHEDULE_OPTIONS
               + METRICS_OPTIONS + LOGGING_OPTIONS + GITHUB_SERVE_OPTIONS + IDENTITY_OPTIONS)


def build_settings(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """Flag, else environment variable, else default; every value parsed and checked here, once."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for option in ALL_OPTIONS:
        raw = getattr(args, option.field, None)
        source = option.flag
        if raw is None and option.env in environ:
            raw, source = environ[option.env], option.env
        if raw is None:
            continue
        try:
            values[option.field] = option.parse(raw)
        except ValueError as error:
            raise ConfigError(f"{source}={raw!r}: {error}") from None
    settings = dataclasses.replace(Settings(), **values)
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ConfigError("--tls-cert and --tls-key go together: give both for TLS, or neither")
    if settings.tls_client_ca and not settings.tls_cert:
        raise ConfigError("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key too")
    return settings


class ConfigError(ValueError):
    """A flag or environment variable with a value that cannot be used."""
