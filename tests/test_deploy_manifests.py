"""The Kubernetes manifests operators deploy, as Kubernetes would see them: each overlay is
rendered with kustomize, every document validates offline (core kinds with
kubernetes-validate, the operators' kinds against the CRD schemas kept in
deploy/k8s/schemas), a policy check (checkov) finds no root container, no missing limit and
no writable root filesystem, and the rendered platform agrees with how it runs locally."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from medcode_common.launcher import SERVICES

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
OVERLAYS = ["dev", "prod"]
KUBERNETES_VERSION = "1.32.0"  # the oldest Kubernetes the manifests are meant for
CRD_KINDS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"),
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "Database"),
    ("elasticsearch.k8s.elastic.co/v1", "Elasticsearch"),
}
WORKLOADS = ("Deployment", "StatefulSet", "Job")
# checkov's checks for what the issue asks: CPU and memory limits, a read-only root
# filesystem, no root container, no privilege escalation.
POLICY_CHECKS = ["CKV_K8S_11", "CKV_K8S_13", "CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_20"]
EDGE = {"gateway", "mail-ingress"}


def _kustomize_command(path: Path) -> list[str]:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize", str(path)]
    if shutil.which("kustomize"):
        return ["kustomize", "build", str(path)]
    pytest.fail("neither kubectl nor kustomize is installed: the manifests cannot be rendered")


@cache
def rendered_text(overlay: str) -> str:
    done = subprocess.run(_kustomize_command(K8S / "overlays" / overlay), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"kustomize failed for {overlay}:\n{done.stderr}"
    return done.stdout


def rendered(overlay: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(rendered_text(overlay)) if doc]


def of_kind(docs, kind) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_spec(doc) -> dict:
    return doc["spec"]["template"]["spec"]


@cache
def crd_schema(api_version: str, kind: str) -> dict:
    return json.loads((SCHEMAS / f"{api_version.replace('/', '_')}_{kind}.json").read_text())


# --- rendering and offline validation ------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_document_validates(overlay):
    docs = rendered(overlay)
    assert docs
    problems = []
    for doc in docs:
        name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
            validator = jsonschema.Draft7Validator(crd_schema(doc["apiVersion"], doc["kind"]))
            problems += [f"{name}: {'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{name}: {exc.message} at {'/'.join(map(str, exc.path))}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(
                f"{name}: no schema for {doc['apiVersion']} {doc['kind']} (add it to CRD_KINDS and schemas/)"
            )
    assert not problems, "\n".join(problems)


def test_the_crd_schemas_catch_mistakes():
    """A schema that accepted anything would prove nothing."""
    cluster = of_kind(rendered("prod"), "RabbitmqCluster")["medcode-rabbitmq"]
    schema = crd_schema("rabbitmq.com/v1beta1", "RabbitmqCluster")
    jsonschema.validate(cluster, schema)
    for broken in (
        {"replicas": -1},
        {"replica": 3},
        {"service": {"type": "Internal"}},
        {"rabbitmq": {"additionalPlugins": ["not a plugin!"]}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**cluster, "spec": {**cluster["spec"], **broken}}, schema)
    database = next(iter(of_kind(rendered("prod"), "Database").values()))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**database, "spec": {**database["spec"], "name": "postgres"}},
            crd_schema("postgresql.cnpg.io/v1", "Database"),
        )
    es = of_kind(rendered("prod"), "Elasticsearch")["medcode-search"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**es, "spec": {"version": "8.15.3", "nodeSets": []}},
            crd_schema("elasticsearch.k8s.elastic.co/v1", "Elasticsearch"),
        )


def _checkov() -> str:
    configured = os.environ.get("CHECKOV") or str(REPO / ".venv-policy" / "bin" / "checkov")
    if not Path(configured).exists():
        pytest.fail(f"checkov is not installed at {configured}: run `make policy-tools`")
    return configured


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_policy_check_finds_no_root_container_missing_limit_or_writable_root(overlay, tmp_path):
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(rendered_text(overlay))
    done = subprocess.run(
        [
            _checkov(),
            "--compact",
            "--skip-download",
            "--framework",
            "kubernetes",
            "--check",
            ",".join(POLICY_CHECKS),
            "--output",
            "json",
            "-f",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, BC_SKIP_MAPPING="TRUE"),
    )
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    results = [r["results"] for r in reports if "results" in r]
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for r in results for c in r["failed_checks"]]
    assert not failed, "\n".join(failed)
    passed = [c for r in results for c in r.get("passed_checks", [])]
    workloads = [d for d in rendered(overlay) if d["kind"] in WORKLOADS]
    # Every check ran on every workload: a check that saw nothing proves nothing.
    assert len(passed) == len(POLICY_CHECKS) * len(workloads), sorted(c["check_id"] + c["resource"] for c in passed)


# --- what the rendered platform must be -----------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_runs_the_launchers_target_with_its_autoscaler(overlay):
    docs = rendered(overlay)
    deployments, autoscalers = of_kind(docs, "Deployment"), of_kind(docs, "HorizontalPodAutoscaler")
    assert set(deployments) >= set(SERVICES) | EDGE
    for name, target in SERVICES.items():
        [container] = pod_spec(deployments[name])["containers"]
        assert container["command"] == ["python", "-m", "medcode_common.runner", target]
        assert autoscalers[name]["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
    assert pod_spec(deployments["mail-ingress"])["containers"][0]["command"] == ["python", "-m", "mail_ingress"]
    assert set(autoscalers) == set(SERVICES) | EDGE


def test_the_services_differ_only_in_name_command_and_memory():
    deployments = of_kind(rendered("prod"), "Deployment")

    def shape(name):
        spec = json.loads(json.dumps(pod_spec(deployments[name])))
        container = spec["containers"][0]
        container.pop("command")
        container["env"] = [
            e
            for e in container.get("env", [])
            if not e["name"].startswith("DATABASE_") and not e["name"].startswith("ELASTICSEARCH_")
        ]
        for kind in ("requests", "limits"):
            container["resources"][kind].pop("memory")
        return spec

    reference = shape("accounts")
    for name in SERVICES:
        assert shape(name) == reference, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ask_the_process_itself(overlay):
    docs = rendered(overlay)
    config = of_kind(docs, "ConfigMap")["medcode-config"]["data"]
    for name, deployment in of_kind(docs, "Deployment").items():
        spec = pod_spec(deployment)
        assert spec["terminationGracePeriodSeconds"] > float(config["RPC_TIMEOUT"]), name
        container = spec["containers"][0]
        if name in SERVICES:
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            assert ports["health"] == int(config["HEALTH_PORT"])
            assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
            assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
        elif name == "gateway":
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            # Its own readiness: a service down must not take every gateway pod away.
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz/gateway"
        elif name == "mail-ingress":
            assert container["livenessProbe"]["tcpSocket"] == {"port": "smtp"}
        # No probe calls across the cluster (an RPC another replica could answer).
        assert "exec" not in container["livenessProbe"], name


def test_dev_runs_single_pods():
    docs = rendered("dev")
    assert all(d["spec"]["replicas"] == 1 for d in docs if d["kind"] in ("Deployment", "StatefulSet"))
    assert all(d["spec"]["maxReplicas"] == 1 for d in docs if d["kind"] == "HorizontalPodAutoscaler")
    assert set(of_kind(docs, "StatefulSet")) == {"rabbitmq", "postgres"}


def test_prod_runs_the_stores_through_their_operators():
    docs = rendered("prod")
    rabbit = of_kind(docs, "RabbitmqCluster")["medcode-rabbitmq"]["spec"]
    assert rabbit["replicas"] == 3
    assert "default_queue_type = quorum" in rabbit["rabbitmq"]["additionalConfig"]
    postgres = of_kind(docs, "Cluster")["medcode-postgres"]["spec"]
    databases = {d["spec"]["name"]: d["spec"] for d in of_kind(docs, "Database").values()}
    assert set(databases) == set(SERVICES) | {"mail_ingress"}
    roles = {r["name"]: r for r in postgres["managed"]["roles"]}
    for service, database in databases.items():
        assert database["owner"] == service and database["cluster"] == {"name": "medcode-postgres"}
        assert roles[service]["passwordSecret"] == {"name": f"medcode-db-{service.replace('_', '-')}"}
    assert of_kind(docs, "Elasticsearch")["medcode-search"]["spec"]["nodeSets"][0]["count"] == 3
    assert not of_kind(docs, "StatefulSet")  # no hand-made stores in prod


def _env(deployment) -> dict[str, dict]:
    return {e["name"]: e for e in pod_spec(deployment)["containers"][0].get("env", [])}


def test_prod_connects_each_service_to_its_own_database_and_everyone_to_the_cluster_broker():
    docs = rendered("prod")
    workloads = {**of_kind(docs, "Deployment"), **of_kind(docs, "Job")}
    for name, workload in workloads.items():
        env = _env(workload)
        assert env["AMQP_URI"]["value"].endswith("@medcode-rabbitmq:5672/"), name
        assert list(env).index("RABBITMQ_PASSWORD") < list(env).index("AMQP_URI")  # $(...) needs order
    for service in [*SERVICES, "mail_ingress"]:
        env = _env(workloads[service.replace("_", "-")])
        assert (
            env["DATABASE_URL"]["value"]
            == f"postgresql://{service}:$(DATABASE_PASSWORD)@medcode-postgres-rw:5432/{service}"
        )
        assert (
            env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == f"medcode-db-{service.replace('_', '-')}"
        )
    assert _env(workloads["load-code-sets"])["DATABASE_URL"] == _env(workloads["codes"])["DATABASE_URL"]
    assert "medcode-search-es-http" in _env(workloads["codes"])["ELASTICSEARCH_URL"]["value"]
    config = of_kind(docs, "ConfigMap")["medcode-config"]["data"]
    assert config["GATEWAY_TRUSTED_PROXIES"]  # the ingress network (issue 8 may refine it)


def test_prod_keeps_one_pod_of_each_part_through_a_drain():
    docs = rendered("prod")
    budgets = of_kind(docs, "PodDisruptionBudget")
    for name, deployment in of_kind(docs, "Deployment").items():
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert budgets[name]["spec"]["maxUnavailable"] == 1
        assert deployment["spec"]["replicas"] >= 2
    assert "medcode-rabbitmq" in budgets


def _selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        if expression["operator"] == "In" and value not in expression["values"]:
            return False
    return True


def test_prod_network_is_default_deny_and_only_the_edge_is_reachable_from_outside():
    docs = rendered("prod")
    policies = of_kind(docs, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    pods = {
        name: d["spec"]["template"]["metadata"]["labels"]
        for name, d in {**of_kind(docs, "Deployment"), **of_kind(docs, "Job")}.items()
    }
    pods["rabbitmq"] = {"app.kubernetes.io/name": "medcode-rabbitmq"}
    pods["postgres"] = {"cnpg.io/cluster": "medcode-postgres"}
    pods["elasticsearch"] = {"elasticsearch.k8s.elastic.co/cluster-name": "medcode-search"}

    def allowed(direction: str, pod: str) -> list[dict]:
        rules = []
        for policy in policies.values():
            spec = policy["spec"]
            if direction.capitalize() in spec["policyTypes"] and _selects(spec["podSelector"], pods[pod]):
                rules += spec.get(direction, [])
        return rules

    def reached_from_outside(pod: str) -> bool:
        return any(
            "ipBlock" in peer
            or "namespaceSelector" in peer
            and peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "ingress-nginx"
            for rule in allowed("ingress", pod)
            for peer in rule.get("from", [])
        )

    def reaches(pod: str, target: str, port: int) -> bool:
        return any(
            any(
                _selects(peer.get("podSelector", {"matchLabels": {"-": "-"}}), pods[target])
                for peer in rule.get("to", [])
            )
            and any(p["port"] == port for p in rule.get("ports", []))
            for rule in allowed("egress", pod)
        )

    assert {pod for pod in pods if reached_from_outside(pod)} == EDGE
    for pod in EDGE:
        assert reaches(pod, "rabbitmq", 5672) and not reaches(pod, "elasticsearch", 9200)
    # The mail ingress keeps received mail in its own database until it is answered; the
    # gateway keeps nothing.
    assert reaches("mail-ingress", "postgres", 5432) and not reaches("gateway", "postgres", 5432)
    for pod in [*SERVICES, "load-code-sets"]:
        assert reaches(pod, "rabbitmq", 5672) and reaches(pod, "postgres", 5432) and reaches(pod, "elasticsearch", 9200)
    [ingress] = of_kind(docs, "Ingress").values()
    [path] = ingress["spec"]["rules"][0]["http"]["paths"]
    assert path["backend"]["service"]["name"] == "gateway"
    services = of_kind(docs, "Service")
    assert services["mail-ingress"]["spec"]["type"] == "LoadBalancer"
    assert services["mail-ingress"]["spec"]["ports"][0]["targetPort"] == "smtp"
    assert services["gateway"]["spec"].get("type", "ClusterIP") == "ClusterIP"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_is_unprivileged_and_bounded(overlay):
    """What the policy check looks for, said once more in our own words, since checkov
    also passes a container that only names a non-zero user."""
    for doc in rendered(overlay):
        if doc["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] > 0
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            where = f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}"
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where


def test_production_believes_the_ingress_and_only_a_network_of_it():
    from gateway.settings import parse_networks

    config = [d for d in rendered("prod") if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "medcode-config"]
    proxies = config[0]["data"].get("GATEWAY_TRUSTED_PROXIES", "")
    assert parse_networks(proxies)
    assert all(not network.is_global for network in parse_networks(proxies))  # never the internet
