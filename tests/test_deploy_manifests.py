"""The Kubernetes manifests operators deploy: every part is there, probed, bounded and
unprivileged, and agrees with how the platform runs locally."""
from pathlib import Path

import pytest
import yaml

from medcode_common.launcher import SERVICES

K8S = Path(__file__).resolve().parents[1] / "deploy" / "k8s"


def _documents(kustomization_dir: Path) -> list[dict]:
    kustomization = yaml.safe_load((kustomization_dir / "kustomization.yaml").read_text())
    docs = []
    for resource in kustomization["resources"]:
        path = (kustomization_dir / resource).resolve()
        assert path.exists(), f"{kustomization_dir}/kustomization.yaml names missing {resource}"
        if path.is_dir():
            docs += _documents(path)
        else:
            docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def _deployments(docs) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlays_build_on_the_base(overlay):
    docs = _documents(K8S / "overlays" / overlay)
    assert set(_deployments(docs)) >= set(SERVICES) | {"gateway"}


def test_every_service_runs_the_same_target_as_the_local_launcher():
    deployments = _deployments(_documents(K8S / "base"))
    for name, target in SERVICES.items():
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["python", "-m", "medcode_common.runner", target]


def test_deployments_are_probed_bounded_and_unprivileged():
    config = next(d for d in _documents(K8S / "base") if d["kind"] == "ConfigMap")
    rpc_timeout = float(config["data"]["RPC_TIMEOUT"])
    for name, deployment in _deployments(_documents(K8S / "base")).items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["terminationGracePeriodSeconds"] > rpc_timeout, name
        for container in pod["containers"]:
            assert "readinessProbe" in container and "livenessProbe" in container, name
            assert container["resources"]["limits"]["memory"], name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            refs = {ref.get("configMapRef", ref.get("secretRef", {})).get("name") for ref in container["envFrom"]}
            assert refs == {"medcode-config", "medcode-secrets"}, name


def test_gateway_probes_use_the_readiness_endpoints():
    gateway = _deployments(_documents(K8S / "base"))["gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_production_believes_the_ingress_and_only_a_network_of_it():
    from gateway.settings import parse_networks

    overlay = K8S / "overlays" / "prod"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    patches = [yaml.safe_load((overlay / patch["path"]).read_text()) for patch in kustomization.get("patches", [])]
    config = [p for p in patches if p["kind"] == "ConfigMap" and p["metadata"]["name"] == "medcode-config"]
    proxies = [p["data"]["GATEWAY_TRUSTED_PROXIES"] for p in config if "GATEWAY_TRUSTED_PROXIES" in p["data"]]
    assert proxies and parse_networks(proxies[-1])
    assert all(not network.is_global for network in parse_networks(proxies[-1]))  # never the internet
