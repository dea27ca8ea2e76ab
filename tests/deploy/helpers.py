"""Loading deploy/ for the tests: YAML documents, the Deployment's pod, the metric catalogue.

Everything here reads the real files and the real gateway code; nothing is
re-declared, so a renamed metric or a moved manifest fails the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.metrics import MetricWrapperBase

from gateway.chain.metrics import GatewayMetrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
GATEWAY_YAML = K8S / "gateway.yaml"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
DASHBOARD = DEPLOY / "grafana" / "compliance-gateway.json"
DOCKERFILE = DEPLOY / "Dockerfile"

# YAML files that are not Kubernetes objects.
NOT_OBJECTS = {"kustomization.yaml", "gateway.yaml", "envoy.yaml", "envoy-jwt-authn.yaml"}  # + Envoy configs


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))


@cache
def documents(path: Path) -> tuple[dict[str, Any], ...]:
    with path.open(encoding="utf-8") as fh:
        return tuple(d for d in yaml.safe_load_all(fh) if d is not None)


def objects() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in yaml_files() if p.name not in NOT_OBJECTS for d in documents(p)]


def find(kind: str, name: str | None = None, path: Path | None = None) -> dict[str, Any]:
    found = [
        d
        for p, d in objects()
        if d.get("kind") == kind
        and (name is None or d["metadata"]["name"] == name)
        and (path is None or p == path)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''} in deploy/, found {len(found)}"
    return found[0]


def container(pod_spec: dict[str, Any], name: str, init: bool = False) -> dict[str, Any]:
    key = "initContainers" if init else "containers"
    matches = [c for c in pod_spec.get(key, []) if c["name"] == name]
    assert len(matches) == 1, f"no {key[:-1]} named {name}"
    return matches[0]


def expand_k8s_refs(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in env values: defined names expand, $$ escapes, the rest stays."""
    return re.sub(
        r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
        lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
        value,
    )


def container_environ(c: dict[str, Any], secret_value: str) -> dict[str, str]:
    """The environment the container would see, with every Secret value set to secret_value."""
    env: dict[str, str] = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = expand_k8s_refs(str(e["value"]), env)
        elif "secretKeyRef" in e.get("valueFrom", {}):
            env[e["name"]] = secret_value
    return env


# --- metrics -------------------------------------------------------------------------------------

# Labels Prometheus (target discovery) adds to every scraped series.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}


@dataclass(frozen=True)
class Series:
    family: str
    type: str
    labels: frozenset[str] = field(default_factory=frozenset)


@cache
def catalogue() -> dict[str, Series]:
    """Every series name the gateway exposes -> its family, type and label names.

    Family names and types come from the registry (counters appear there without
    ``_total``); label names from the metric objects of the same GatewayMetrics.
    """
    gm = GatewayMetrics()
    families = {m.name: m.type for m in gm.registry.collect()}
    labels = {w._name: tuple(w._labelnames) for w in vars(gm).values() if isinstance(w, MetricWrapperBase)}
    assert set(labels) == set(families), "GatewayMetrics holds metrics outside its registry"
    suffixes = {
        "counter": ("_total",),
        "gauge": ("",),
        "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("", "_sum", "_count"),
    }
    out: dict[str, Series] = {}
    for name, kind in families.items():
        for suffix in suffixes[kind]:
            extra = {"le"} if suffix == "_bucket" else set()
            out[name + suffix] = Series(name, kind, frozenset(labels[name]) | extra)
    return out


PROMQL_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "and",
    "or",
    "unless",
    "bool",
    "inf",
    "nan",
}


def _strip_promql(expr: str) -> str:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # range selectors
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    return expr


def promql_selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names used in its matcher) for each vector selector in expr."""
    stripped = re.sub(r"\[[^\]]*\]", " ", expr)
    out = []
    for m in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?", stripped):
        name, matcher = m.group(1), m.group(2) or ""
        if name not in promql_metric_names(expr):
            continue
        labels = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matcher))
        out.append((name, labels))
    return out


def promql_metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that name metrics (not functions, keywords, labels)."""
    s = _strip_promql(expr)
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(
        r"(?<![A-Za-z0-9_.])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:[smhdwy]|ms)?\b", " ", s
    )  # numbers, durations
    names = set()
    for m in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?", s):
        if m.group(2) or m.group(1).lower() in PROMQL_KEYWORDS:
            continue  # a function call or a keyword
        names.add(m.group(1))
    return names


def grouping_labels(expr: str) -> set[str]:
    out: set[str] = set()
    for m in re.finditer(r"\b(?:by|without)\s*\(([^)]*)\)", _strip_promql_strings(expr)):
        out |= {x.strip() for x in m.group(1).split(",") if x.strip()}
    return out


def _strip_promql_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def label_values_queries(query: str) -> tuple[str, str] | None:
    """Grafana's label_values(selector, label) -> (selector, label)."""
    m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", query)
    return (m.group(1), m.group(2)) if m else None
