"""Identity checked by Envoy's own jwt_authn (deploy/envoy/envoy-jwt-authn.yaml), trusted by the chain."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import orjson
import yaml
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.auth.devkey import DEV_ISSUER, DEV_KID, load_or_create_dev_key, mint
from tests.extproc.conftest import bearer, chain_config
from tests.extproc.harness import ROOT, EnvoyProcess, ExtProcProcess, envoy_config
from tests.extproc.split_upstream import SplitEcho
from tests.extproc.test_envoy import chat, request_records
from tests.servers import ServerThread

SOURCE = ROOT / "deploy" / "envoy" / "envoy-jwt-authn.yaml"


def dev_jwks() -> str:
    raw = load_or_create_dev_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA", "kid": DEV_KID}]})


def with_local_jwks(cfg: dict) -> dict:
    hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    jwt = next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.jwt_authn")
    idp = jwt["typed_config"]["providers"]["idp"]
    idp["issuer"] = DEV_ISSUER
    del idp["audiences"], idp["remote_jwks"]
    idp["local_jwks"] = {"inline_string": dev_jwks()}
    cfg["static_resources"]["clusters"] = [
        c for c in cfg["static_resources"]["clusters"] if c["name"] != "idp"
    ]
    return cfg


def test_envoy_verifies_the_token_and_the_chain_trusts_its_payload(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'audit.db'}"
    up = SplitEcho()
    with ServerThread(up) as srv:
        cfg = chain_config(
            srv.url, store, plugins=["auth", "audit"], auth={"trusted_payload_header": "x-jwt-payload"}
        )
        (tmp_path / "gw.yaml").write_text(yaml.safe_dump(cfg))
        with (
            ExtProcProcess(tmp_path / "gw.yaml") as ep,
            EnvoyProcess(with_local_jwks(envoy_config(srv.port, ep.port, source=SOURCE))) as envoy,
        ):
            url = f"{envoy.url}/v1/chat/completions"
            ok = httpx.post(url, json=chat("hi"), headers=bearer(mint("alice", "acme", ["user"])), timeout=30)
            assert ok.status_code == 200, ok.text
            assert "authorization" not in up.headers[-1] and "x-jwt-payload" not in up.headers[-1]
            # A forged payload next to a valid token: jwt_authn overwrites it with what it verified.
            forged = base64.urlsafe_b64encode(
                orjson.dumps({"sub": "mallory", "tenant": "zhongbank", "roles": ["admin"], "exp": 9999999999})
            ).decode()
            h = {**bearer(mint("alice", "acme", ["user"])), "x-jwt-payload": forged}
            r2 = httpx.post(url, json=chat("hi"), headers=h, timeout=30)
            assert r2.status_code == 200, r2.text
            n = len(up.received)
            # No token, a forged payload alone, a token signed by another key: Envoy refuses them.
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            other = mint("alice", "acme", ["user"], key=Ed25519PrivateKey.generate())
            for headers in ({}, {"x-jwt-payload": forged}, bearer(other)):
                r = httpx.post(url, json=chat("hi"), headers=headers, timeout=30)
                assert r.status_code == 401, (headers, r.text)
            assert len(up.received) == n
            recs = request_records(store, {ok.headers["x-request-id"], r2.headers["x-request-id"]})
            assert {r["tenant"] for r in recs} == {"acme"}, recs
