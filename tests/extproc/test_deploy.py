"""The shipped Envoy configurations are valid for Envoy 1.40 and do not drift apart."""

from __future__ import annotations

import copy
import subprocess

import pytest
import yaml

from tests.extproc.harness import ROOT, envoy_binary

ENVOY = ROOT / "deploy" / "envoy"
FILES = [ENVOY / "envoy.yaml", ENVOY / "envoy-jwt-authn.yaml", ENVOY / "kubernetes" / "envoy.yaml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ENVOY)))
def test_envoy_accepts_the_shipped_config(path) -> None:
    r = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(path)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    cfg = yaml.safe_load(path.read_text())
    hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    ext = next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.ext_proc")["typed_config"]
    assert ext["failure_mode_allow"] is False
    assert ext["processing_mode"]["request_body_mode"] == "BUFFERED"
    assert ext["processing_mode"]["response_body_mode"] == "STREAMED"


def _without_addresses(cfg: dict) -> dict:
    cfg = copy.deepcopy(cfg)
    for c in cfg["static_resources"]["clusters"]:
        if c["name"] == "model_server":
            c.pop("type"), c.pop("dns_lookup_family", None), c.pop("load_assignment")
    return cfg


def test_kubernetes_envoy_config_matches_the_tested_one() -> None:
    base = yaml.safe_load((ENVOY / "envoy.yaml").read_text())
    k8s = yaml.safe_load((ENVOY / "kubernetes" / "envoy.yaml").read_text())
    assert _without_addresses(k8s) == _without_addresses(base)
