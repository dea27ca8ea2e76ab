"""The Kubernetes manifests: they parse, they are valid objects, and they agree with the gateway.

The gateway.yaml shipped in the ConfigMap is loaded by the real config model and
each plugin's own settings model; the Deployment's environment is applied to it
the way the kubelet would; ports, selectors, mounts and Secret keys are checked
against each other, so a rename on one side fails here instead of in a cluster.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from gateway.chain.plugins import resolve
from gateway.config import GatewayConfig, load_config
from tests.deploy.helpers import (
    DEPLOY,
    GATEWAY_YAML,
    K8S,
    container,
    container_environ,
    documents,
    find,
    objects,
    yaml_files,
)

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
SECRET_VALUE = "0123456789abcdef0123456789abcdef"
BUILTIN_GROUPS = {"", "apps", "policy", "autoscaling", "networking.k8s.io"}


@pytest.fixture(scope="module")
def config() -> GatewayConfig:
    return load_config(GATEWAY_YAML, environ={})


@pytest.fixture(scope="module")
def pod() -> dict:
    return find("Deployment", "compliance-gateway")["spec"]["template"]


def _gateway(pod: dict) -> dict:
    return container(pod["spec"], "gateway")


# --- parsing and object identity ---------------------------------------------------------------


def test_every_yaml_file_parses_and_is_not_empty() -> None:
    files = yaml_files()
    assert len(files) >= 13, [f.name for f in files]
    for f in files:
        docs = documents(f)
        assert docs, f"{f} holds no YAML document"
        assert all(isinstance(d, dict) for d in docs), f"{f}: every document must be a mapping"


def test_every_object_has_api_version_kind_name_and_namespace() -> None:
    objs = objects()
    kinds = {d.get("kind") for _, d in objs}
    for required in (
        "Namespace",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "ServiceMonitor",
        "PrometheusRule",
        "Secret",
        "ServiceAccount",
        "InferenceService",
    ):
        assert required in kinds, f"no {required} in deploy/"
    seen = set()
    for path, d in objs:
        where = f"{path.relative_to(DEPLOY)}: {d.get('kind')}"
        assert isinstance(d.get("apiVersion"), str) and d["apiVersion"], where
        assert isinstance(d.get("kind"), str) and d["kind"], where
        name = d.get("metadata", {}).get("name")
        assert isinstance(name, str) and re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name), where
        if d["kind"] not in CLUSTER_SCOPED:
            assert d["metadata"].get("namespace"), f"{where} {name} has no namespace"
        key = (d["apiVersion"].split("/")[0], d["kind"], d["metadata"].get("namespace"), name)
        assert key not in seen, f"duplicate object {key}"
        seen.add(key)


def test_builtin_objects_validate_against_the_kubernetes_schema() -> None:
    kv = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate (dev dependency) not installed"
    )
    checked = 0
    for path, d in objects():
        group = d["apiVersion"].rpartition("/")[0]
        if group not in BUILTIN_GROUPS:
            continue  # custom resources (ServiceMonitor, PrometheusRule, InferenceService)
        try:
            kv.validate(d, "1.33", strict=True)
        except kv.ValidationError as exc:
            pytest.fail(
                f"{path.name}: {d['kind']} {d['metadata']['name']}: {exc.message} at {list(exc.path)}"
            )
        checked += 1
    assert checked >= 14


def test_kustomizations_name_existing_files_and_never_the_secret_templates() -> None:
    for kfile in (K8S / "kustomization.yaml", DEPLOY / "kustomization.yaml"):
        k = documents(kfile)[0]
        assert k["kind"] == "Kustomization"
        for res in k["resources"]:
            assert (kfile.parent / res).exists(), f"{kfile}: {res} does not exist"
            assert "secret" not in res, f"{kfile} applies {res}: placeholders would overwrite real keys"
        for gen in k.get("configMapGenerator", []):
            for f in gen["files"]:
                assert (kfile.parent / f.split("=")[-1]).is_file(), f"{kfile}: {f} does not exist"
    listed = set(documents(K8S / "kustomization.yaml")[0]["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "gateway.yaml"}
    assert on_disk - listed == {"secrets.example.yaml", "vllm-example.yaml", "kserve-example.yaml"}


# --- the gateway configuration -----------------------------------------------------------------


def test_configmap_gateway_yaml_is_a_valid_production_config(config: GatewayConfig) -> None:
    k = documents(K8S / "kustomization.yaml")[0]
    gen = next(g for g in k["configMapGenerator"] if g["name"] == "compliance-gateway-config")
    assert gen["files"] == ["gateway.yaml"]
    assert config.plugins and [p.name for p in config.plugins] == [
        "auth",
        "ratelimit",
        "pii",
        "policy",
        "audit",
    ]
    assert config.server.host == "0.0.0.0"
    assert config.rate_limit.backend == "redis" and not config.rate_limit.fail_open
    store = urlsplit(config.audit.store)
    assert store.scheme == "postgresql" and store.password is None, "the password comes from PGPASSWORD"
    assert not config.audit.fail_open
    assert config.auth.enabled and config.auth.jwks_url and config.auth.public_key_file
    assert "HS256" not in config.auth.algorithms
    assert config.policy["mode"] == "opa" and config.policy["opa_url"] == "http://127.0.0.1:8181"
    assert {u.labels.get("region") for u in config.upstreams} == {"eu"}
    runtimes = {u.labels.get("runtime"): u for u in config.upstreams}
    assert set(runtimes) == {"vllm", "kserve"}
    assert runtimes["vllm"].api_key_env


def test_an_unknown_key_in_the_shipped_config_would_be_refused(tmp_path: Path) -> None:
    """The check above is worth something only if the model rejects typos."""
    data = yaml.safe_load(GATEWAY_YAML.read_text())
    data["rate_limit"]["redis_ulr"] = data["rate_limit"].pop("redis_url")
    bad = tmp_path / "gateway.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(Exception, match="rate_limit.redis_ulr"):
        load_config(bad, environ={})


def test_plugin_sections_validate_against_each_plugins_settings(config: GatewayConfig) -> None:
    validated = []
    for spec in config.plugins:
        try:
            cls = resolve(spec.name)
        except (LookupError, ImportError):
            continue
        section = getattr(cls, "section", None)
        raw = getattr(config, section) if section else spec.settings
        if not hasattr(raw, "model_dump"):
            cls.Settings.model_validate(raw)
        validated.append(spec.name)
    assert "policy" in validated, "the policy plugin's settings model must check the policy: section"
    if "pii" not in validated:  # the engine's settings model, until the gateway plugin lands
        from privacy.pii.settings import PIISettings

        PIISettings.model_validate(config.pii)


def test_the_deployments_environment_applies_cleanly_to_the_config(pod: dict, config: GatewayConfig) -> None:
    env = container_environ(_gateway(pod), SECRET_VALUE)
    assert env["CG_CONFIG"].endswith("/gateway.yaml")
    # Every CG_X__Y variable must land on a real key: load_config refuses unknown ones.
    merged = load_config(GATEWAY_YAML, environ=env)
    redis = urlsplit(merged.rate_limit.redis_url)
    assert redis.password == SECRET_VALUE, "CG_RATE_LIMIT__REDIS_URL must carry the Secret's password"
    assert (redis.hostname, redis.port) == (
        urlsplit(config.rate_limit.redis_url).hostname,
        urlsplit(config.rate_limit.redis_url).port,
    )
    # Secrets named by the config are provided from Secrets, never as literal values.
    secret_env = {e["name"] for e in _gateway(pod)["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    needed = {"PGPASSWORD", config.pii["hash_key_env"]} | {
        u.api_key_env for u in config.upstreams if u.api_key_env
    }
    assert needed <= secret_env, needed - secret_env
    assert not any(SECRET_VALUE in str(v) for v in yaml.safe_load(GATEWAY_YAML.read_text()).values())


def test_mounted_files_provide_every_path_the_config_reads(pod: dict, config: GatewayConfig) -> None:
    gw = _gateway(pod)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in gw["volumeMounts"]}

    def source(path: str) -> tuple[dict, str]:
        parent, name = str(Path(path).parent), Path(path).name
        assert parent in mounts, f"{path} is not under a volume mount of the gateway container"
        assert mounts[parent].get("readOnly") is True
        return volumes[mounts[parent]["name"]], name

    for p in (config.auth.public_key_file, config.audit.signing_key_file, config.audit.subject_key_file):
        vol, name = source(str(p))
        assert vol["secret"]["secretName"] == "compliance-gateway-keys"
        assert name in {i["path"] for i in vol["secret"]["items"]}
    vol, name = source(container_environ(gw, SECRET_VALUE)["CG_CONFIG"])
    assert vol["configMap"]["name"] == "compliance-gateway-config" and name == "gateway.yaml"
    # Read-only root: the writable places are emptyDirs.
    for path in ("/tmp", "/var/lib/compliance-gateway"):
        assert "emptyDir" in volumes[mounts[path]["name"]]


def test_secret_templates_hold_placeholders_for_every_key_the_pod_uses(pod: dict) -> None:
    secrets = {d["metadata"]["name"]: d for p, d in objects() if d["kind"] == "Secret"}
    assert set(secrets) == {"compliance-gateway-keys", "compliance-gateway-env"}
    for s in secrets.values():
        assert "data" not in s, "templates use stringData placeholders only"
        for key, value in s["stringData"].items():
            assert "REPLACE_ME" in value, f"{s['metadata']['name']}/{key} is not a placeholder"
    used: set[tuple[str, str]] = set()
    for c in pod["spec"]["containers"]:
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                used.add((ref["name"], ref["key"]))
    for v in pod["spec"]["volumes"]:
        if "secret" in v:
            used |= {(v["secret"]["secretName"], i["key"]) for i in v["secret"]["items"]}
    provided = {(n, k) for n, s in secrets.items() for k in s["stringData"]}
    assert used == provided, used ^ provided


# --- the pod -------------------------------------------------------------------------------------


def test_pod_and_every_container_are_locked_down(pod: dict) -> None:
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False
    for c in spec["containers"] + spec.get("initContainers", []):
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"], c["name"]
        assert sc["runAsNonRoot"] is True and sc["seccompProfile"]["type"] == "RuntimeDefault", c["name"]
        assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], c["name"]


def test_gateway_container_probes_and_ports_match_the_config(pod: dict, config: GatewayConfig) -> None:
    dep = find("Deployment", "compliance-gateway")
    assert dep["spec"]["replicas"] == 3
    gw = _gateway(pod)
    ports = {p["name"]: p["containerPort"] for p in gw["ports"]}
    assert ports["http"] == config.server.port
    assert gw["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gw["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert gw[probe]["httpGet"]["port"] in ("http", config.server.port)
    assert "command" not in gw, "the image's ENTRYPOINT (gateway serve) runs"


def test_opa_sidecar_serves_the_bundle_on_the_address_the_policy_plugin_calls(
    pod: dict, config: GatewayConfig
) -> None:
    opa = container(pod["spec"], "opa")
    assert re.fullmatch(r"openpolicyagent/opa:1\.\d+\.\d+-static", opa["image"]), opa["image"]
    args = opa["args"]
    assert args[:2] == ["run", "--server"]
    addr = args[args.index("--addr") + 1]
    url = urlsplit(config.policy["opa_url"])
    assert addr == f"{url.hostname}:{url.port}" == "127.0.0.1:8181"
    bundle = args[args.index("--bundle") + 1]
    assert bundle == "/policies"
    assert any(m["mountPath"] == bundle and m.get("readOnly") for m in opa["volumeMounts"])
    # The init container fills that volume from the policies/ directory baked into the image.
    init = container(pod["spec"], "policy-bundle", init=True)
    assert init["image"] == _gateway(pod)["image"]
    assert any(m["mountPath"] == "/policies" and m["name"] == "policies" for m in init["volumeMounts"])
    assert (DEPLOY.parent / "policies" / ".manifest").is_file()


def test_selectors_ports_and_targets_agree() -> None:
    dep = find("Deployment", "compliance-gateway")
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    svc = find("Service", "compliance-gateway")

    def selects(selector: dict, labels: dict) -> bool:
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    assert selects(dep["spec"]["selector"]["matchLabels"], pod_labels)
    assert selects(svc["spec"]["selector"], pod_labels)
    assert selects(
        find("PodDisruptionBudget", "compliance-gateway")["spec"]["selector"]["matchLabels"], pod_labels
    )
    assert selects(
        find("NetworkPolicy", "compliance-gateway")["spec"]["podSelector"]["matchLabels"], pod_labels
    )
    for c in dep["spec"]["template"]["spec"]["topologySpreadConstraints"]:
        assert selects(c["labelSelector"]["matchLabels"], pod_labels)
    hpa = find("HorizontalPodAutoscaler", "compliance-gateway")
    assert (hpa["spec"]["scaleTargetRef"]["kind"], hpa["spec"]["scaleTargetRef"]["name"]) == (
        "Deployment",
        "compliance-gateway",
    )
    assert hpa["spec"]["minReplicas"] >= dep["spec"]["replicas"]
    assert (
        find("PodDisruptionBudget", "compliance-gateway")["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    )
    container_ports = {p["name"] for p in _gateway(dep["spec"]["template"])["ports"]}
    assert {p["targetPort"] for p in svc["spec"]["ports"]} <= container_ports
    sm = find("ServiceMonitor", "compliance-gateway")
    assert selects(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"])
    assert {e["port"] for e in sm["spec"]["endpoints"]} <= {p["name"] for p in svc["spec"]["ports"]}
    assert sm["spec"]["endpoints"][0]["path"] == "/metrics"
    # The alerts select job="compliance-gateway": the ServiceMonitor's jobLabel must produce it.
    assert svc["metadata"]["labels"][sm["spec"]["jobLabel"]] == "compliance-gateway"


def test_network_policy_egress_allows_exactly_the_dependencies(config: GatewayConfig) -> None:
    np = find("NetworkPolicy", "compliance-gateway")["spec"]
    assert set(np["policyTypes"]) == {"Ingress", "Egress"}
    egress_ports = set()
    for rule in np["egress"]:
        assert rule.get("to") and rule.get("ports"), "every egress rule names its peers and ports"
        egress_ports |= {p["port"] for p in rule["ports"]}
    needed = {
        53,
        urlsplit(config.rate_limit.redis_url).port,
        urlsplit(config.audit.store).port,
        urlsplit(config.auth.jwks_url).port or 443,
    }
    vllm_svc = find("Service", "vllm-qwen")
    needed |= {vllm_svc["spec"]["ports"][0]["port"], 8080}  # vLLM pod port; KServe predictor container port
    assert egress_ports == needed, egress_ports ^ needed
    ingress_ports = {p["port"] for r in np["ingress"] for p in r["ports"]}
    assert ingress_ports == {config.server.port}


# --- the model-server examples -------------------------------------------------------------------


def test_vllm_example_is_the_upstream_the_config_names(config: GatewayConfig) -> None:
    up = next(u for u in config.upstreams if u.labels.get("runtime") == "vllm")
    url = urlsplit(up.url)
    svc = find("Service", "vllm-qwen")
    assert url.hostname == f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.cluster.local"
    assert url.port == svc["spec"]["ports"][0]["port"]
    dep = find("Deployment", "vllm-qwen")
    c = container(dep["spec"]["template"]["spec"], "vllm")
    assert c["image"].startswith("vllm/vllm-openai:v")
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
    args = c["args"]
    assert args[0].startswith(("Qwen/", "meta-llama/"))
    assert args[args.index("--served-model-name") + 1] in up.models
    # vLLM requires the key the gateway sends for this upstream.
    assert any(e["name"] == "VLLM_API_KEY" and "secretKeyRef" in e["valueFrom"] for e in c["env"])
    assert up.api_key_env == "VLLM_API_KEY"


def test_kserve_example_is_the_upstream_the_config_names(config: GatewayConfig) -> None:
    up = next(u for u in config.upstreams if u.labels.get("runtime") == "kserve")
    isvc = find("InferenceService", "llama-3-1-8b")
    name, ns = isvc["metadata"]["name"], isvc["metadata"]["namespace"]
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    url = urlsplit(up.url)
    assert url.hostname == f"{name}-predictor.{ns}.svc.cluster.local" and url.path == "/openai"
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"]["name"] == "huggingface"
    served = next(a.split("=", 1)[1] for a in model["args"] if a.startswith("--model_name="))
    assert served in up.models
    assert model["resources"]["limits"]["nvidia.com/gpu"] == "1"
