"""The guardrail API's keys (LiteLLM sends its ``api_key`` as ``x-api-key``) and the caller mapping.

Keys come from environment variables and files named in the config, never from the config
itself. A presented key is compared with every configured key in constant time (SHA-256 of
both sides, so lengths leak nothing either); no early exit.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

from gateway.chain.context import Identity
from gateway.chain.errors import Unauthorized
from gateway.config import ConfigError, GuardrailSettings

MIN_KEY_CHARS = 16


def load_keys(settings: GuardrailSettings, environ: Mapping[str, str] | None = None) -> list[bytes]:
    """SHA-256 digests of the configured keys. A named file that cannot be read stops start-up."""
    env = os.environ if environ is None else environ
    raw: list[str] = []
    for name in settings.api_key_envs:
        value = env.get(name, "").strip()
        if value:
            raw.append(value)
    for path in settings.api_key_files:
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"guardrail.api_key_files: cannot read {path}: {exc.strerror}") from None
        if not value:
            raise ConfigError(f"guardrail.api_key_files: {path} is empty")
        raw.append(value)
    for value in raw:
        if len(value) < MIN_KEY_CHARS:
            raise ConfigError(f"guardrail: an API key is shorter than {MIN_KEY_CHARS} characters")
    return [hashlib.sha256(v.encode()).digest() for v in raw]


def check_key(presented: str | None, digests: list[bytes]) -> None:
    """Raise Unauthorized unless ``presented`` equals one of the configured keys."""
    if not digests:
        raise Unauthorized(
            "no guardrail API key is configured on this gateway", code="guardrail_key_not_configured"
        )
    if not presented:
        raise Unauthorized("missing x-api-key header", code="missing_api_key", error="invalid_request")
    got = hashlib.sha256(presented.strip().encode("utf-8", "surrogatepass")).digest()
    ok = False
    for d in digests:
        ok |= hmac.compare_digest(got, d)
    if not ok:
        raise Unauthorized("invalid x-api-key", code="invalid_api_key")


# request_data fields that may reach the identity's claims (and so the policy input). The
# caller's e-mail never does.
CLAIM_FIELDS = (
    "user_api_key_team_id",
    "user_api_key_team_alias",
    "user_api_key_alias",
    "user_api_key_org_id",
    "user_api_key_user_id",
    "user_api_key_end_user_id",
)


def identity_from(request_data: Mapping[str, Any] | None, settings: GuardrailSettings) -> Identity:
    """LiteLLM's key, team and user (request_data) -> our tenant and subject."""
    data = request_data or {}

    def first(fields: list[str], default: str) -> str:
        for f in fields:
            v = data.get(f)
            if isinstance(v, str) and v.strip():
                return v.strip()[:256]
        return default

    tenant = first(list(settings.tenant_fields), settings.default_tenant)
    subject = first(list(settings.subject_fields), settings.default_subject)
    claims = {
        f[len("user_api_key_") :]: data[f] for f in CLAIM_FIELDS if isinstance(data.get(f), str) and data[f]
    }
    return Identity(subject=subject, tenant=tenant, roles=tuple(settings.roles), claims={"litellm": claims})
