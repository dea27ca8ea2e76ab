"""The policy stage: one explainable allow/deny decision per request, from Rego.

Runs after PII redaction, before forwarding. Builds the policy input from the
request context (never message text), asks the embedded engine or an OPA
sidecar, records the decision for the audit event, refuses denied requests
with their reasons (403), and enforces the decision's obligations.

Fail closed: an engine error, a timeout, an undefined or malformed decision
denies (403); an unreachable OPA server refuses with 503. A route listed in
``fail_open_routes`` lets the request through instead, and says so in the
audit record (``fail_open: true`` and the failure).

Obligations are handled through an explicit registry; an obligation the
gateway does not know how to enforce denies the request.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.chain.context import PolicyDecision, RequestContext
from gateway.chain.errors import Forbidden, GatewayError, ServiceUnavailable
from gateway.chain.plugins import Plugin
from gateway.config import ConfigError
from gateway.policy.bundle import default_bundle_dir
from gateway.policy.decision import CheckedDecision, build_input, check_decision
from gateway.policy.embedded import EmbeddedDecider, validate
from gateway.policy.engines import engine_names
from gateway.policy.errors import EngineUnavailable, PolicyError, PolicyTimeout
from gateway.policy.metrics import DECISION_SECONDS, DECISIONS
from gateway.policy.opa import OpaServerDecider
from gateway.policy.reload import BundleWatcher, ReloadHook

log = logging.getLogger("gateway.policy")


ROUTES = frozenset({"chat", "completions", "embeddings", "models"})
# Standard OIDC claims that carry personal data: never copied into the policy input.
PERSONAL_CLAIMS = frozenset(
    {
        "email",
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "phone_number",
        "address",
        "birthdate",
        "picture",
        "profile",
        "sub",
    }
)


class PolicySettings(BaseModel):
    """The ``policy:`` section of the gateway configuration."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["embedded", "opa"] = "embedded"
    engine: str = "regorus"
    # None: the repository's policies/ (see gateway.policy.bundle.default_bundle_dir).
    bundle_dir: Path | None = None
    # The decision document, as an OPA Data API path.
    decision: str = "gateway/authz/decision"
    opa_url: str = "http://127.0.0.1:8181"
    # Name of an environment variable holding a bearer token for the OPA server (never the token).
    opa_token_env: str | None = None
    # Embedded mode checks it after the fact (the engine cannot be interrupted), so it is generous:
    # a scheduler pause on a busy host must not turn into a 403.
    timeout_ms: float = Field(500.0, gt=0, le=60_000)
    # Poll the bundle files every N seconds; 0 turns hot reload off (embedded mode only).
    reload_interval_s: float = Field(2.0, ge=0)
    # Run the bundle's own Rego tests at start-up and before every swap.
    test_on_load: bool = True
    # Routes on which an engine failure lets the request through (audited). Policy denials still deny.
    fail_open_routes: list[str] = Field(default_factory=list)
    # Token claims copied into the policy input (never free-text claims).
    claims: list[str] = Field(default_factory=lambda: ["plan", "region", "entitlements"])
    max_input_bytes: int = Field(65_536, gt=0)

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, v: str) -> str:
        if v not in engine_names():
            raise ValueError(f"unknown engine {v!r}; known: {', '.join(engine_names())}")
        return v

    @field_validator("opa_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("fail_open_routes")
    @classmethod
    def _known_routes(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - ROUTES)
        if unknown:
            raise ValueError(f"unknown route(s) {', '.join(unknown)}; routes are {', '.join(sorted(ROUTES))}")
        return v

    @field_validator("claims")
    @classmethod
    def _no_personal_claims(cls, v: list[str]) -> list[str]:
        personal = sorted(set(v) & PERSONAL_CLAIMS)
        if personal:
            raise ValueError(
                f"claim(s) {', '.join(personal)} hold personal data and may not enter the policy input"
            )
        return v

    @field_validator("decision")
    @classmethod
    def _path(cls, v: str) -> str:
        v = v.strip("/")
        if not v or any(not part.isidentifier() for part in v.split("/")):
            raise ValueError("must be a slash-separated rule path such as gateway/authz/decision")
        return v

    def resolved_bundle_dir(self) -> Path:
        return self.bundle_dir if self.bundle_dir is not None else default_bundle_dir()


def configured_models(config: Any) -> frozenset[str] | None:
    """Model names the configured upstreams list by name (None: no gateway config to ask)."""
    upstreams = getattr(config, "upstreams", None)
    if upstreams is None:
        return None
    return frozenset(m for u in upstreams for m in u.models if m != "*")


# --- obligations: name -> handler(ctx, value); unknown names deny -------------------------

ObligationHandler = Callable[[RequestContext, Any], Awaitable[None] | None]


class ObligationError(PolicyError):
    """An obligation cannot be enforced: the request is denied."""


def _cap_max_tokens(ctx: RequestContext, cap: Any) -> None:
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ObligationError("max_tokens obligation is not a positive integer")
    if not isinstance(ctx.body, dict):
        return
    for key in ("max_tokens", "max_completion_tokens"):
        requested = ctx.body.get(key)
        if requested is None:
            if key == "max_tokens":
                ctx.body[key] = cap
        elif isinstance(requested, int) and not isinstance(requested, bool):
            ctx.body[key] = min(requested, cap)
        else:
            raise ObligationError(f"{key} in the request is not an integer")


async def _enforce_pii(ctx: RequestContext, operators: Any) -> None:
    if not isinstance(operators, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in operators.items()
    ):
        raise ObligationError("pii_operators obligation is not an object of entity -> operator")
    if not operators:
        return
    pii_state = ctx.pii_state
    enforce = getattr(pii_state, "enforce", None)
    if not callable(enforce):
        raise ObligationError("policy requires PII redaction but the PII stage is not active")
    result = enforce(operators)
    if inspect.isawaitable(result):
        await result


OBLIGATIONS: dict[str, ObligationHandler] = {}


def register_obligation(name: str, handler: ObligationHandler) -> None:
    OBLIGATIONS[name] = handler


register_obligation("max_tokens", _cap_max_tokens)
register_obligation("pii_operators", _enforce_pii)

_FAILURE_KIND: dict[type[PolicyError], str] = {
    EngineUnavailable: "unavailable",
    PolicyTimeout: "timeout",
}


class PolicyPlugin(Plugin):
    name = "policy"
    section = "policy"
    Settings = PolicySettings

    def __init__(self, settings: PolicySettings, config: Any) -> None:
        super().__init__(settings, config)
        self.settings: PolicySettings = settings
        self._decider: EmbeddedDecider | OpaServerDecider | None = None
        self.watcher: BundleWatcher | None = None
        self._claim_keys = tuple(settings.claims)
        self._fail_open = frozenset(settings.fail_open_routes)
        self._models = configured_models(config)
        self._validated: Any = None  # the bundle check() validated, reused by startup()
        # The gateway wires this to its audit log: called with every reload event (a dict).
        self.on_reload_event: ReloadHook | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def check(self) -> None:
        """Start-up validation that needs no network (``gateway serve`` and ``--check`` both run it).

        Embedded mode: load, compile and test the bundle; a bad bundle is a configuration error
        naming ``policy.bundle_dir``. The validated bundle is kept for ``startup()``.
        """
        s = self.settings
        if s.mode != "embedded":
            return
        try:
            self._validated = self._validate()
        except PolicyError as exc:
            raise ConfigError(f"invalid configuration: policy.bundle_dir: {exc}") from None

    def _validate(self) -> Any:
        s = self.settings
        return validate(s.engine, s.resolved_bundle_dir(), s.decision, run_bundle_tests=s.test_on_load)

    async def startup(self) -> None:
        s = self.settings
        timeout_s = s.timeout_ms / 1000
        if s.mode == "opa":
            opa = OpaServerDecider(s.opa_url, s.decision, timeout_s, token_env=s.opa_token_env)
            await opa.start()
            self._decider = opa
            return
        bundle_dir = s.resolved_bundle_dir()
        # Validate (load, compile, run the bundle's tests), then compile the serving copy here,
        # on the loop thread that will evaluate. A bad bundle stops start-up with its reason.
        validated, self._validated = self._validated or self._validate(), None
        decider = EmbeddedDecider(s.engine, s.decision, timeout_s)
        decider.activate(validated.bundle)
        self._decider = decider
        if s.reload_interval_s > 0:
            self.watcher = BundleWatcher(
                decider,
                bundle_dir,
                interval_s=s.reload_interval_s,
                run_bundle_tests=s.test_on_load,
                on_event=self._emit_reload_event,
            )
            self.watcher.start()
        log.info("policy bundle %s loaded from %s (engine %s)", decider.revision, bundle_dir, s.engine)

    def _emit_reload_event(self, event: dict[str, Any]) -> None:
        if self.on_reload_event is not None:
            self.on_reload_event(event)

    async def shutdown(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
            self.watcher = None
        if self._decider is not None:
            await self._decider.close()
            self._decider = None

    async def ready(self) -> tuple[bool, str]:
        if self._decider is None:
            return False, "policy engine not started"
        return await self._decider.ready()

    @property
    def revision(self) -> str | None:
        return self._decider.revision if self._decider is not None else None

    # --- the request path ----------------------------------------------------------------

    async def _decide(self, doc: dict[str, Any]) -> CheckedDecision:
        decider = self._decider
        if decider is None:
            raise EngineUnavailable("policy engine not started")
        try:
            input_json = orjson.dumps(doc).decode()
        except TypeError as exc:
            raise PolicyError(f"policy input is not JSON-serialisable ({exc.__class__.__name__})") from None
        if len(input_json) > self.settings.max_input_bytes:
            raise PolicyError(f"policy input exceeds {self.settings.max_input_bytes} bytes")
        if isinstance(decider, OpaServerDecider):
            raw = await decider.decide(doc)
        else:
            raw = await decider.decide(input_json)
        return check_decision(raw)

    async def on_request(self, ctx: RequestContext) -> None:
        t0 = time.perf_counter()
        failure: PolicyError | None = None
        try:
            doc = build_input(ctx, claim_keys=self._claim_keys)
        except Exception as exc:  # a context the input builder does not understand: fail closed
            log.error("policy input could not be built: %s", type(exc).__name__)
            doc = {"route": ctx.route}
            failure = PolicyError("policy input could not be built from the request")
        try:
            if failure is not None:
                raise failure
            checked = await self._decide(doc)
        except PolicyError as exc:
            failure = exc
            checked = CheckedDecision(allow=False, deny_reasons=[str(exc)])
        latency = time.perf_counter() - t0
        DECISION_SECONDS.observe(latency)

        fail_open = failure is not None and ctx.route in self._fail_open
        if fail_open:
            checked = CheckedDecision(allow=True)
            log.warning(
                "policy engine failed on fail-open route %s; request let through: %s", ctx.route, failure
            )
        decision = PolicyDecision(
            allow=checked.allow,
            deny_reasons=list(checked.deny_reasons),
            obligations=dict(checked.obligations),
            bundle_revision=self.revision,
            latency_ms=round(latency * 1000, 3),
            fail_open=fail_open,
        )
        ctx.policy = decision
        record: dict[str, Any] = {
            "allow": decision.allow,
            "deny_reasons": decision.deny_reasons,
            "obligations": decision.obligations,
            "revision": decision.bundle_revision,
            "latency_ms": decision.latency_ms,
            "fail_open": fail_open,
            "mode": self.settings.mode,
            "failure": None if failure is None else _FAILURE_KIND.get(type(failure), "error"),
            # The decision log: the input minus the subject (the audit event carries identity).
            "input": {k: v for k, v in doc.items() if k != "subject"},
        }
        if ctx.model and self._models is not None and ctx.model not in self._models:
            # A model name no upstream lists is whatever the client typed: keep it out of the log
            # (the audit plugin keeps it in the record's encrypted personal part).
            record["input"]["model"] = None
            record["model_redacted"] = True
            record["deny_reasons"] = [r.replace(ctx.model, "<model>") for r in decision.deny_reasons]
        if checked.audit:
            record["policy_audit"] = checked.audit
        ctx.audit["policy"] = record

        if failure is not None and not fail_open:
            DECISIONS.labels(outcome="error").inc()
            if isinstance(failure, EngineUnavailable):
                raise ServiceUnavailable("policy engine unavailable; request refused (fail closed)")
            raise Forbidden(f"request denied: {failure}")
        if not decision.allow:
            DECISIONS.labels(outcome="deny").inc()
            reasons = "; ".join(decision.deny_reasons) or "no reason given"
            raise Forbidden(f"request denied by policy: {reasons}")
        await self._apply_obligations(ctx, decision.obligations)
        DECISIONS.labels(outcome="fail_open" if fail_open else "allow").inc()

    async def _apply_obligations(self, ctx: RequestContext, obligations: dict[str, Any]) -> None:
        # pii_operators re-redacts the original body into a new one: it runs first, so that the
        # other obligations (max_tokens) apply to the body that is sent.
        for name, value in sorted(obligations.items(), key=lambda kv: kv[0] != "pii_operators"):
            handler = OBLIGATIONS.get(name)
            try:
                if handler is None:
                    raise ObligationError(f"policy requires an obligation the gateway cannot enforce: {name}")
                result = handler(ctx, value)
                if inspect.isawaitable(result):
                    await result
            except ObligationError as exc:
                self._deny_after_allow(ctx, str(exc))
            except GatewayError:
                raise
            except Exception as exc:
                log.error("obligation %s failed: %s", name, type(exc).__name__)
                self._deny_after_allow(ctx, f"obligation {name} could not be enforced")

    def _deny_after_allow(self, ctx: RequestContext, reason: str) -> None:
        if ctx.policy is not None:
            ctx.policy.allow = False
            ctx.policy.deny_reasons.append(reason)
        record = ctx.audit.get("policy")
        if isinstance(record, dict):
            record["allow"] = False
            record["deny_reasons"] = [*record.get("deny_reasons", []), reason]
        DECISIONS.labels(outcome="deny").inc()
        raise Forbidden(f"request denied by policy: {reason}")
