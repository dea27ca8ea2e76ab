"""auth.trusted_payload_header: the identity Envoy's jwt_authn verified, taken as given, checked for the rest."""

from __future__ import annotations

import base64
import time

import orjson
import pytest

from gateway.chain.context import RequestContext
from gateway.chain.errors import Unauthorized
from gateway.chain.plugins.auth import JWTAuthPlugin
from gateway.config import AuthSettings, ConfigError, load_config


def plugin(**kw: object) -> JWTAuthPlugin:
    return JWTAuthPlugin(AuthSettings(trusted_payload_header="x-jwt-payload", **kw), None)


def ctx(payload: object | None, raw: str | None = None) -> RequestContext:
    headers = {"authorization": "Bearer whatever"}
    if raw is not None:
        headers["x-jwt-payload"] = raw
    elif payload is not None:
        headers["x-jwt-payload"] = base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()
    return RequestContext(
        request_id="1", route="chat", method="POST", path="/v1/chat/completions", headers=headers
    )


GOOD = {
    "sub": "alice",
    "tenant": "acme",
    "roles": ["user"],
    "exp": time.time() + 600,
    "iss": "https://idp",
    "aud": ["llm", "other"],
}


async def test_verified_payload_becomes_the_identity() -> None:
    c = ctx(GOOD)
    await plugin(issuer="https://idp", audience="llm").on_request(c)
    assert c.identity is not None and (c.identity.subject, c.identity.tenant, c.identity.roles) == (
        "alice",
        "acme",
        ("user",),
    )


@pytest.mark.parametrize(
    "payload, raw, code",
    [
        (None, None, "missing_token"),  # Envoy did not verify anything: no identity, whatever the token says
        (None, "%%%not-base64%%%", "invalid_token"),
        (None, base64.urlsafe_b64encode(b"[1,2]").decode(), "invalid_token"),
        ({**GOOD, "exp": time.time() - 3600}, None, "token_expired"),
        ({k: v for k, v in GOOD.items() if k != "exp"}, None, "missing_claim"),
        ({**GOOD, "iss": "https://evil"}, None, "invalid_issuer"),
        ({**GOOD, "aud": "someone-else"}, None, "invalid_audience"),
        ({**GOOD, "tenant": ""}, None, "missing_claim"),
        (
            {**GOOD, "roles": "admin root"},
            None,
            None,
        ),  # a space-separated string is read as roles, like tokens
    ],
)
async def test_bad_payloads_are_refused(payload: object, raw: str | None, code: str | None) -> None:
    p = plugin(issuer="https://idp", audience="llm")
    c = ctx(payload, raw)
    if code is None:
        await p.on_request(c)
        assert c.identity is not None and c.identity.roles == ("admin", "root")
        return
    with pytest.raises(Unauthorized) as err:
        await p.on_request(c)
    assert err.value.code == code


def test_header_name_is_validated() -> None:
    with pytest.raises(ConfigError, match="auth.trusted_payload_header"):
        load_config(None, environ={}, overrides={"auth": {"trusted_payload_header": "x bad\nheader"}})
