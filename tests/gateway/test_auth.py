"""JWT authentication against a real gateway: keys from PEM, JWKS, HMAC secret and the dev key."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.auth.devkey import mint
from tests.gateway.conftest import auth
from tests.servers import ServerThread

CHAT = {"model": "echo-1", "messages": [{"role": "user", "content": "hi"}]}


def _pem_pub(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _claims(**kw):
    now = int(time.time())
    c = {
        "sub": "bob",
        "tenant": "acme",
        "roles": ["user"],
        "iat": now,
        "exp": now + 600,
        "iss": "https://idp",
        "aud": "cg",
    }
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _post(url, token):
    return httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(token) if token else {})


def test_rsa_pem_key_and_bad_tokens(upstream, gateway_factory, rsa_key, tmp_path):
    _, up_url = upstream
    pem = tmp_path / "pub.pem"
    pem.write_bytes(_pem_pub(rsa_key))
    url, _ = gateway_factory(
        upstreams=[{"name": "u", "url": up_url}],
        auth={"public_key_file": str(pem), "issuer": "https://idp", "audience": "cg"},
    )
    good = jwt.encode(_claims(), rsa_key, algorithm="RS256")
    assert _post(url, good).status_code == 200
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # Classic confusion: HS256 signed with the RSA *public key* bytes as the secret.
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=")
    import hashlib
    import hmac as _hmac

    sig = base64.urlsafe_b64encode(
        _hmac.new(_pem_pub(rsa_key), header + b"." + payload, hashlib.sha256).digest()
    ).rstrip(b"=")
    confused = (header + b"." + payload + b"." + sig).decode()
    none_tok = (
        base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=") + b"." + payload + b"."
    ).decode()
    cases = {
        "missing": None,
        "garbage": "not.a.jwt",
        "expired": jwt.encode(_claims(exp=int(time.time()) - 3600), rsa_key, algorithm="RS256"),
        "forged": jwt.encode(_claims(), other, algorithm="RS256"),
        "alg_none": none_tok,
        "wrong_aud": jwt.encode(_claims(aud="someone-else"), rsa_key, algorithm="RS256"),
        "wrong_iss": jwt.encode(_claims(iss="https://evil"), rsa_key, algorithm="RS256"),
        "no_exp": jwt.encode(_claims(exp=None), rsa_key, algorithm="RS256"),
        "future_nbf": jwt.encode(_claims(nbf=int(time.time()) + 3600), rsa_key, algorithm="RS256"),
        "hmac_with_public_key": confused,
        "no_tenant": jwt.encode(_claims(tenant=None), rsa_key, algorithm="RS256"),
    }
    for name, tok in cases.items():
        r = _post(url, tok)
        assert r.status_code == 401, (name, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer"), name
        assert r.json()["error"]["type"] == "authentication_error"
    r = httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    # Small leeway: a token that expired 5 s ago is still accepted (clock skew), one that expired long ago is not.
    assert (
        _post(url, jwt.encode(_claims(exp=int(time.time()) - 5), rsa_key, algorithm="RS256")).status_code
        == 200
    )


def test_es256_and_eddsa_allowed_hs256_only_with_secret(upstream, gateway_factory, tmp_path, monkeypatch):
    _, up_url = upstream
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "ec.pem"
    pem.write_bytes(_pem_pub(ec_key))
    url, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}], auth={"public_key_file": str(pem)})
    assert _post(url, jwt.encode(_claims(aud=None), ec_key, algorithm="ES256")).status_code == 200
    secret = "s" * 40
    assert _post(url, jwt.encode(_claims(aud=None), secret, algorithm="HS256")).status_code == 401
    monkeypatch.setenv("CG_TEST_HS_SECRET", secret)
    url2, _ = gateway_factory(
        upstreams=[{"name": "u", "url": up_url}],
        auth={"algorithms": ["HS256"], "hs256_secret_env": "CG_TEST_HS_SECRET"},
    )
    assert _post(url2, jwt.encode(_claims(aud=None), secret, algorithm="HS256")).status_code == 200
    assert _post(url2, jwt.encode(_claims(aud=None), "x" * 40, algorithm="HS256")).status_code == 401


class JWKSServer:
    def __init__(self) -> None:
        self.keys: list[dict] = []
        self.hits = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while True:
                    m = await receive()
                    await send({"type": m["type"] + ".complete"})
                    if m["type"] == "lifespan.shutdown":
                        return
            return
        self.hits += 1
        body = json.dumps({"keys": self.keys}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _jwk(key, kid):
    d = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    d.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return d


def test_jwks_cached_and_refreshed_on_unknown_kid(upstream, gateway_factory, rsa_key, monkeypatch):
    import gateway.auth.keys as keys

    monkeypatch.setattr(keys, "MIN_REFRESH_INTERVAL", 0.0)
    _, up_url = upstream
    jwks = JWKSServer()
    jwks.keys = [_jwk(rsa_key, "k1")]
    with ServerThread(jwks) as js:
        url, _ = gateway_factory(
            upstreams=[{"name": "u", "url": up_url}], auth={"jwks_url": f"{js.url}/jwks"}
        )
        t1 = jwt.encode(_claims(aud=None), rsa_key, algorithm="RS256", headers={"kid": "k1"})
        for _ in range(3):
            assert _post(url, t1).status_code == 200
        assert jwks.hits == 1  # cached
        rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwks.keys.append(_jwk(rotated, "k2"))
        t2 = jwt.encode(_claims(aud=None, sub="carol"), rotated, algorithm="RS256", headers={"kid": "k2"})
        assert _post(url, t2).status_code == 200
        assert jwks.hits == 2  # refreshed once for the unknown kid
        t3 = jwt.encode(_claims(aud=None), rotated, algorithm="RS256", headers={"kid": "k-unknown"})
        assert _post(url, t3).status_code == 401


def test_dev_token_cli_and_default_dev_key(upstream, gateway_factory):
    _, up_url = upstream
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "token",
            "--sub",
            "alice",
            "--tenant",
            "acme",
            "--role",
            "user",
            "--role",
            "admin",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    tok = out.stdout.strip()
    claims = jwt.decode(tok, options={"verify_signature": False})
    assert claims["sub"] == "alice" and claims["roles"] == ["user", "admin"] and claims["exp"] > time.time()
    url, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}])
    assert _post(url, tok).status_code == 200
    assert _post(url, mint("alice", "acme", ["user"], ttl=-120)).status_code == 401
