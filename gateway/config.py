"""Gateway configuration: one YAML file validated by pydantic.

Precedence, lowest to highest: built-in defaults < the YAML file < environment
variables (``CG_`` prefix, ``__`` between nested keys, e.g.
``CG_AUTH__ISSUER=https://idp``) < command-line flags. An invalid file stops
start-up with the offending key named; nothing falls back silently.
Secrets are never values in this file: they are file paths or names of
environment variables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from audit.compliance import ComplianceSettings

ENV_PREFIX = "CG_"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(1_048_576, gt=0)
    # Reuse the client's X-Request-Id when present (trusted proxies only).
    trust_request_id: bool = False
    # Request bodies nested deeper than this get 400 before any plugin runs.
    max_json_depth: int = Field(64, ge=2, le=1000)
    # On SIGTERM: stop accepting, let in-flight requests and streams finish for this long, then
    # flush and sign the audit tail and exit 0.
    shutdown_grace_s: float = Field(30.0, ge=0, le=3600)


class Timeouts(_Strict):
    connect: float = Field(2.0, gt=0)
    first_byte: float = Field(60.0, gt=0)
    total: float = Field(600.0, gt=0)


class UpstreamSettings(_Strict):
    name: str
    url: str
    # Model names served by this upstream; "*" matches any model not claimed elsewhere.
    models: list[str] = Field(default_factory=lambda: ["*"])
    # Free-form labels the policy engine sees (region: eu, tier: gpu-a100 ...).
    labels: dict[str, str] = Field(default_factory=dict)
    # Name of an environment variable holding the upstream's API key (never the key).
    api_key_env: str | None = None
    timeouts: Timeouts = Field(default_factory=Timeouts)
    max_connections: int = Field(512, gt=0)
    # Ask for a final usage chunk on streams (OpenAI stream_options.include_usage; vLLM, TGI and
    # llama.cpp support it) so completion tokens are counted exactly; it is removed again for
    # clients that did not ask for it. Turn off for servers that reject the field.
    stream_usage: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")


LiteLLMField = Literal[
    "user_api_key_hash",
    "user_api_key_alias",
    "user_api_key_user_id",
    "user_api_key_user_email",
    "user_api_key_team_id",
    "user_api_key_team_alias",
    "user_api_key_end_user_id",
    "user_api_key_org_id",
]


def _fields(*names: LiteLLMField) -> list[LiteLLMField]:
    return list(names)


class GuardrailSettings(_Strict):
    """LiteLLM's Generic Guardrail API (POST /beta/litellm_basic_guardrail_api on `gateway serve`)."""

    enabled: bool = True
    # Keys LiteLLM sends as x-api-key: names of environment variables and files holding one key
    # each (never the keys themselves). No key configured: every call is refused (401).
    api_key_envs: list[str] = Field(default_factory=lambda: ["CG_GUARDRAIL_API_KEY"])
    api_key_files: list[Path] = Field(default_factory=list)
    # Our tenant and subject: the first of these fields present in LiteLLM's request_data.
    tenant_fields: list[LiteLLMField] = Field(
        default_factory=lambda: _fields("user_api_key_team_id", "user_api_key_org_id")
    )
    default_tenant: str = Field("litellm", min_length=1)
    subject_fields: list[LiteLLMField] = Field(
        default_factory=lambda: _fields(
            "user_api_key_user_id", "user_api_key_end_user_id", "user_api_key_hash"
        )
    )
    default_subject: str = Field("litellm", min_length=1)
    # Roles the policy sees for LiteLLM callers.
    roles: list[str] = Field(default_factory=lambda: ["user"])
    # Pseudonyms given out on pre_call are kept (in memory) this long for the post_call.
    call_ttl_seconds: float = Field(600.0, gt=0, le=86_400)
    max_calls: int = Field(100_000, gt=0)


Algorithm = Literal["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA", "HS256"]


def _algorithms(*names: Algorithm) -> list[Algorithm]:
    return list(names)


class AuthSettings(_Strict):
    enabled: bool = True
    algorithms: list[Algorithm] = Field(default_factory=lambda: _algorithms("RS256", "ES256", "EdDSA"))
    public_key_file: Path | None = None
    jwks_url: str | None = None
    jwks_cache_seconds: float = Field(300.0, gt=0)
    # HS256 is accepted only when a shared secret is configured (by file or env var name).
    hs256_secret_file: Path | None = None
    hs256_secret_env: str | None = None
    issuer: str | None = None
    audience: str | None = None
    leeway_seconds: float = Field(30.0, ge=0, le=300)
    subject_claim: str = "sub"
    tenant_claim: str = "tenant"
    roles_claim: str = "roles"
    # Cache verified tokens (keyed by a hash of the token) until they expire.
    cache_size: int = Field(10_000, ge=0)
    # Identity already verified by a trusted proxy in front (Envoy's jwt_authn with
    # forward_payload_header): the name of the header carrying the verified JWT payload
    # (base64url JSON). When set, the token is NOT verified again and the header is the only
    # source of identity: set it only where every request comes through that proxy, which
    # overwrites the header (docs/integrations.md). A request without it gets 401.
    trusted_payload_header: str | None = Field(None, pattern=r"^[A-Za-z0-9-]+$")


class Limits(_Strict):
    requests_per_minute: int | None = Field(None, gt=0)
    tokens_per_minute: int | None = Field(None, gt=0)


class RateLimitSettings(_Strict):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "cg:rl:"
    tenant: Limits = Field(
        default_factory=lambda: Limits(requests_per_minute=6000, tokens_per_minute=2_000_000)
    )
    subject: Limits = Field(
        default_factory=lambda: Limits(requests_per_minute=600, tokens_per_minute=200_000)
    )
    # Per-tenant overrides of the tenant limits.
    tenants: dict[str, Limits] = Field(default_factory=dict)
    # Redis unreachable: refuse (fail closed) unless this is set.
    fail_open: bool = False


class AuditSettings(_Strict):
    # sqlite:///PATH or postgresql://... (the audit log); jsonl:///PATH is a plain debugging file
    # written by the gateway itself: no chain, no signatures.
    store: str = "sqlite:///var/audit.db"
    queue_size: int = Field(10_000, gt=0)
    # If the store cannot accept writes, refuse requests (fail closed) unless this is set.
    fail_open: bool = False
    signing_key_file: Path | None = None
    subject_key_file: Path | None = None
    checkpoint_every: int = Field(1000, gt=0)
    # Also sign a checkpoint when this many seconds passed with unsigned records (quiet logs).
    checkpoint_seconds: float = Field(60.0, gt=0)
    # Group commit: after the first record of a batch, wait this long for more before the
    # transaction. Answers wait for their record, so this adds to latency; 0 (the default) writes
    # whatever queued while the previous batch was being committed, which already groups records
    # under load.
    linger_ms: float = Field(0.0, ge=0, le=1000)
    # How long an answer may wait for its record to become durable before it is withheld (503).
    durable_timeout_s: float = Field(10.0, gt=0, le=300)
    # true: no answer leaves before its record is durable (the guarantee in docs/audit.md).
    # false: answers leave once their record is queued; a crash loses the records of answers
    # given since the last commit. For measuring the cost of the guarantee (bench/gateway), not
    # for production.
    wait_for_durable: bool = True


class PluginSpec(_Strict):
    name: str
    enabled: bool = True
    # Settings for plugins without a top-level section (third-party plugins).
    settings: dict[str, Any] = Field(default_factory=dict)


DEFAULT_CHAIN = ["auth", "ratelimit", "pii", "policy", "audit"]


class GatewayConfig(_Strict):
    server: ServerSettings = Field(default_factory=ServerSettings)
    upstreams: list[UpstreamSettings] = Field(
        default_factory=lambda: [UpstreamSettings(name="dev", url="http://127.0.0.1:8000")]
    )
    plugins: list[PluginSpec] = Field(default_factory=lambda: [PluginSpec(name=n) for n in DEFAULT_CHAIN])
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    # Controller, DPO, retention periods, recipients and transfer safeguards for the GDPR reports
    # (audit/compliance.py; `audit export --config FILE` reads the same section).
    compliance: ComplianceSettings | None = None
    # Sections owned by their plugins, validated by each plugin's own Settings model at build time.
    pii: dict[str, Any] = Field(default_factory=dict)
    policy: dict[str, Any] = Field(default_factory=dict)
    guardrail: GuardrailSettings = Field(default_factory=GuardrailSettings)

    @field_validator("plugins", mode="before")
    @classmethod
    def _names_as_specs(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"name": item} if isinstance(item, str) else item for item in v]
        return v

    @field_validator("compliance")
    @classmethod
    def _recipients_name_real_upstreams(cls, v: ComplianceSettings | None, info: ValidationInfo) -> Any:
        if v is not None and info.data.get("upstreams"):
            v.check_upstreams([u.name for u in info.data["upstreams"]])
        return v

    @field_validator("upstreams")
    @classmethod
    def _at_least_one(cls, v: list[UpstreamSettings]) -> list[UpstreamSettings]:
        if not v:
            raise ValueError("at least one upstream is required")
        names = [u.name for u in v]
        if len(names) != len(set(names)):
            raise ValueError("upstream names must be unique")
        return v


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """CG_AUTH__ISSUER=x -> {"auth": {"issuer": "x"}}; values are parsed as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        path = [p.lower() for p in key[len(ENV_PREFIX) :].split("__") if p]
        if not path:
            continue
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        node = out
        for p in path[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = value
    return out


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in ((prefix,) if prefix else ()) + tuple(err["loc"]))
        parts.append(f"{loc}: {err['msg']}")
    return "invalid configuration: " + "; ".join(parts)


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> GatewayConfig:
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"config file {p} is not valid YAML{where}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {p} must hold a mapping at the top level")
        data = loaded
    data = _deep_merge(data, _env_overrides(dict(os.environ if environ is None else environ)))
    if overrides:
        data = _deep_merge(data, overrides)
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
