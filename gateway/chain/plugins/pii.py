"""The PII stage: redact requests before the model sees them, restore or redact responses.

Request: every text of a chat request (system, user, assistant, tool messages,
content parts, tool-call arguments), a completions prompt or an embeddings
input is analysed in one batch (one NER pass for all messages) and rewritten
with the operator configured per entity type. Findings (types, counts, top
scores; never values) go to ``ctx.pii`` and ``ctx.audit["pii"]``.

``ctx.pii_state`` holds a ``PIIRequestState``: the per-request redaction
session (placeholder numbering, pseudonym map), the original texts and their
findings, so the policy stage can demand stricter operators with
``enforce({"CREDIT_CARD": "remove"})`` without a second analysis.

Response: PII the model produced is redacted (never pseudonymised) and
pseudonyms are restored, so the user sees real values and the model never
does. Streams go through ``StreamRewriter``, which holds back only a tail that
could still be a token or an identifier.

Fail closed: any engine error becomes 503 "PII engine unavailable", with no
text in the message or the log.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import Counter
from typing import Any, Literal

from gateway.chain.context import PIIFinding, RequestContext
from gateway.chain.errors import BadRequest, PayloadTooLarge, ServiceUnavailable
from gateway.chain.plugins import Plugin
from gateway.config import ConfigError
from privacy.pii.body import Texts, UnknownField, Unscreenable, request_texts, response_texts
from privacy.pii.engine import PIIEngine, TextTooLarge
from privacy.pii.findings import Finding
from privacy.pii.keys import TenantKeys, load_master_secret
from privacy.pii.operators import OPERATORS, TOKEN_RE, RedactionSession
from privacy.pii.pseudonym_store import PseudonymStore
from privacy.pii.settings import PIISettings
from privacy.pii.streaming import StreamRewriter

log = logging.getLogger("gateway.pii")
DEFAULT_TENANT = "default"


# Streamed text fields of a chat delta, each restored and redacted like the message content.
REASONING_FIELDS = ("reasoning_content", "reasoning")
TEXT_DELTAS = frozenset(("content", *REASONING_FIELDS))


class PIIConfigError(ConfigError, ValueError):
    """A ``pii:`` setting the engine cannot start with; the message names the key."""

    def __init__(self, message: str) -> None:
        super().__init__(f"invalid configuration: {message}")


class GatewayPIISettings(PIISettings):
    """The ``pii:`` section: the engine's settings plus what only the gateway does."""

    # A request field the gateway does not know: screen it as free text, or refuse the request (400
    # naming the field's path, never its value).
    unknown_fields: Literal["screen", "reject"] = "screen"


class PIIRequestState:
    """Per-request PII state. Never audited, never logged."""

    def __init__(
        self,
        plugin: PIIPlugin,
        ctx: RequestContext,
        tenant: str,
        original: dict[str, Any] | None,
        findings: list[list[Finding]],
    ) -> None:
        self.plugin = plugin
        self.ctx = ctx
        self.tenant = tenant
        self.session = RedactionSession(
            plugin.settings, tenant, plugin.keys, durable=plugin.settings.tenant(tenant).durable_pseudonyms
        )
        self.original = original
        self.findings = findings
        self.streams: dict[tuple[int, str, int], StreamRewriter] = {}
        self.last_chunk: dict[str, Any] | None = None

    def redact_body(self, overrides: dict[str, str] | None = None) -> dict[str, Any]:
        body = copy.deepcopy(self.original) if self.original is not None else {}
        texts = request_texts(body, self.ctx.route, self.plugin.settings.unknown_fields)
        values = texts.texts()
        texts.write([self.session.apply(t, f, overrides) for t, f in zip(values, self.findings, strict=True)])
        return body

    def enforce(self, operators: dict[str, str]) -> Any:
        """Re-redact the original request with ``operators`` overriding the configured ones.

        Returns None, or an awaitable when new durable pseudonyms must be stored first.
        """
        unknown = sorted(set(operators.values()) - set(OPERATORS))
        if unknown:
            raise ValueError(f"unknown PII operators {unknown}")
        try:
            self.ctx.body = self.redact_body(dict(operators))
        except Unscreenable as exc:
            raise BadRequest(str(exc), code="unscreenable_input") from None
        except Exception as exc:
            log.error("PII enforce failed: %s", type(exc).__name__)
            raise ServiceUnavailable("PII engine unavailable") from None
        return self.store_new() if self.session.new_durable else None

    async def store_new(self) -> None:
        """Seal and store pseudonyms issued by this request (durable tenants); fail closed."""
        items, self.session.new_durable = self.session.new_durable, {}
        store = self.plugin.store
        if not items:
            return
        if store is None:
            raise ServiceUnavailable("PII pseudonym store unavailable")
        try:
            await store.put_many(self.tenant, items)
        except Exception as exc:
            log.error("PII pseudonym store failed: %s", type(exc).__name__)
            raise ServiceUnavailable("PII pseudonym store unavailable") from None

    async def load_known(self, texts: list[str]) -> None:
        """Durable tenants: fetch values of tokens from earlier requests quoted in ``texts``."""
        store = self.plugin.store
        if store is None or not self.session.durable:
            return
        wanted = sorted(
            {m.group(0) for t in texts for m in TOKEN_RE.finditer(t)} - set(self.session.pseudonyms)
        )
        if not wanted:
            return
        try:
            self.session.pseudonyms.update(await store.get_many(self.tenant, wanted))
        except Exception as exc:  # the tokens stay as they are: nothing is revealed
            log.error("PII pseudonym lookup failed: %s", type(exc).__name__)

    def rewriter(self, key: tuple[int, str, int]) -> StreamRewriter:
        rw = self.streams.get(key)
        if rw is None:
            s = self.plugin.settings
            analyze = (
                (lambda text: self.plugin.analyze_one(text, self.tenant)) if s.redact_responses else None
            )
            rw = StreamRewriter(self.session, analyze, s.restore_responses, json_escape=key[1] == "args")
            self.streams[key] = rw
        return rw


class PIIPlugin(Plugin):
    name = "pii"
    section = "pii"
    Settings = GatewayPIISettings

    def __init__(self, settings: GatewayPIISettings, config: Any) -> None:
        super().__init__(settings, config)
        self.settings: GatewayPIISettings = settings
        # Model names the upstreams list by name; any other name is client input and is screened.
        ups = getattr(config, "upstreams", None)
        self._models = frozenset() if ups is None else frozenset(m for u in ups for m in u.models if m != "*")
        self.engine: PIIEngine | None = None
        self._master: bytes | None = None
        self.keys: TenantKeys | None = None
        self.store: PseudonymStore | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def check(self) -> None:
        """Start-up validation that needs no network (``gateway serve`` and ``--check`` both run it):
        the key the operators need, settings that need each other, the engine and its model loaded."""
        s = self.settings
        try:
            master = load_master_secret(s.hash_key_file, s.hash_key_env)
        except OSError as exc:
            raise PIIConfigError(
                f"pii.hash_key_file: cannot read {s.hash_key_file} ({exc.strerror})"
            ) from None
        except ValueError as exc:
            raise PIIConfigError(f"pii.hash_key_file: {exc}") from None
        if master is None and _uses_hash(s):
            raise PIIConfigError(
                "pii.hash_key_file: the hash operator needs a key file or the key environment variable"
            )
        if any(t.durable_pseudonyms for t in s.tenants.values()):
            if s.pseudonym_store is None:
                raise PIIConfigError(
                    "pii.pseudonym_store: a tenant has durable_pseudonyms but no store is configured"
                )
            if master is None:
                raise PIIConfigError("pii.hash_key_file: durable pseudonyms need the PII master key")
        engine = PIIEngine(s)
        try:
            engine.start()
        except (OSError, ImportError) as exc:
            raise PIIConfigError(
                f"pii.ner.model: cannot load {s.ner.model!r} ({type(exc).__name__})"
            ) from None
        self._master, self.engine = master, engine

    async def startup(self) -> None:
        if self.engine is None:
            await asyncio.to_thread(self.check)
        s, master = self.settings, self._master
        self.keys = TenantKeys(master) if master is not None else None
        if (
            master is not None
            and s.pseudonym_store is not None
            and any(t.durable_pseudonyms for t in s.tenants.values())
        ):
            ps = s.pseudonym_store
            self.store = PseudonymStore(ps.url, ps.key_prefix, ps.ttl_seconds, master)
            await self.store.start()

    async def shutdown(self) -> None:
        if self.store is not None:
            await self.store.close()

    async def ready(self) -> tuple[bool, str]:
        if self.engine is None or not self.engine.started:
            return False, "PII engine not loaded"
        return True, "ok"

    def analyze_one(self, text: str, tenant: str) -> list[Finding]:
        """Stream buffers: analysed once each, so they stay out of the result cache."""
        return self._analyze([text], tenant, cache=False)[0]

    def _analyze(self, texts: list[str], tenant: str, cache: bool = True) -> list[list[Finding]]:
        if self.engine is None:
            raise ServiceUnavailable("PII engine unavailable")
        try:
            return self.engine.analyze_many(texts, tenant, cache=cache)
        except TextTooLarge:
            raise PayloadTooLarge(
                f"request text is over the PII engine limit of {self.settings.max_chars} characters"
            ) from None
        except Exception as exc:
            log.error("PII engine failed: %s", type(exc).__name__)
            raise ServiceUnavailable("PII engine unavailable") from None

    async def _analyze_off_loop(self, texts: list[str], tenant: str) -> list[list[Finding]]:
        if sum(len(t) for t in texts) > self.settings.offload_chars:
            return await asyncio.to_thread(self._analyze, texts, tenant)
        return self._analyze(texts, tenant)

    # -- request -----------------------------------------------------------------------
    async def on_request(self, ctx: RequestContext) -> None:
        if not self.settings.enabled or ctx.body is None:
            return
        tenant = ctx.identity.tenant if ctx.identity is not None else DEFAULT_TENANT
        # ctx.body is replaced below by a redacted copy, so the parsed body itself stays the original.
        original = ctx.body
        try:
            texts: Texts = request_texts(original, ctx.route, self.settings.unknown_fields)
        except Unscreenable as exc:
            raise BadRequest(str(exc), code="unscreenable_input") from None
        except UnknownField as exc:
            raise BadRequest(str(exc), code="unknown_field") from None
        values = texts.texts()
        model = ctx.model if isinstance(ctx.model, str) and ctx.model not in self._models else None
        if model:
            values.append(model)  # analysed in the same batch; never rewritten, refused if personal
        total = sum(len(v) for v in values)
        if total > self.settings.max_chars:
            raise PayloadTooLarge(
                f"request text is over the PII engine limit of {self.settings.max_chars} characters"
            )
        findings = await self._analyze_off_loop(values, tenant) if values else []
        if model:
            found = findings.pop()
            values.pop()
            if found:
                kinds = ", ".join(sorted({f.entity_type for f in found}))
                raise BadRequest(
                    f"the model name holds personal data ({kinds}); use a model this gateway lists",
                    code="personal_data_in_model",
                )
        state = PIIRequestState(self, ctx, tenant, original, findings)
        ctx.pii_state = state
        try:
            ctx.body = state.redact_body()
        except Unscreenable as exc:
            raise BadRequest(str(exc), code="unscreenable_input") from None
        except Exception as exc:
            log.error("PII redaction failed: %s", type(exc).__name__)
            raise ServiceUnavailable("PII engine unavailable") from None
        if state.session.new_durable:
            await state.store_new()
        counts: Counter[str] = Counter()
        top: dict[str, float] = {}
        for per_text in findings:
            for f in per_text:
                counts[f.entity_type] += 1
                top[f.entity_type] = max(top.get(f.entity_type, 0.0), f.score)
        ctx.pii = [PIIFinding(et, n, round(top[et], 3)) for et, n in sorted(counts.items())]
        ctx.audit["pii"] = dict(sorted(counts.items()))
        if texts.media:  # binary images and audio go out as they are: say so in the record
            ctx.audit["pii_unscreened_media"] = dict(sorted(texts.media.items()))

    # -- response ----------------------------------------------------------------------
    async def on_response(self, ctx: RequestContext) -> None:
        state = ctx.pii_state
        if state is None or not isinstance(ctx.response, dict):
            return
        s = self.settings
        if not (s.redact_responses or s.restore_responses):
            return
        texts = response_texts(ctx.response)
        values = texts.texts()
        if not values:
            return
        if s.restore_responses:
            await state.load_known(values)
        findings = (
            await self._analyze_off_loop(values, state.tenant) if s.redact_responses else [[] for _ in values]
        )
        out = []
        for text, found in zip(values, findings, strict=True):
            text = state.session.apply(text, found, response=True) if found else text
            out.append(state.session.restore(text) if s.restore_responses else text)
        texts.write(out)

    # -- streaming ---------------------------------------------------------------------
    def on_chunk(self, ctx: RequestContext, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        state = ctx.pii_state
        choices = chunk.get("choices")
        if state is None or not isinstance(choices, list) or not choices:
            return [chunk]
        s = self.settings
        if not (s.redact_responses or s.restore_responses):
            return [chunk]
        state.last_chunk = chunk
        keep = False
        for choice in choices:
            if not isinstance(choice, dict):
                keep = True
                continue
            idx = choice.get("index", 0) if isinstance(choice.get("index"), int) else 0
            done = choice.get("finish_reason") is not None
            delta = choice.get("delta")
            if isinstance(delta, dict):
                keep |= self._rewrite_field(state, (idx, "content", 0), delta, "content", done)
                for field in REASONING_FIELDS:  # reasoning models (DeepSeek-R1 on vLLM): the same as content
                    if field in delta or (done and (idx, field, 0) in state.streams):
                        keep |= self._rewrite_field(state, (idx, field, 0), delta, field, done)
                for call in delta.get("tool_calls") or []:
                    fn = call.get("function") if isinstance(call, dict) else None
                    if isinstance(fn, dict):
                        t = call.get("index", 0) if isinstance(call.get("index"), int) else 0
                        keep |= self._rewrite_field(
                            state, (idx, "args", t), fn, "arguments", done, always=True
                        )
                keep |= any(k not in TEXT_DELTAS for k in delta if delta.get(k) is not None)
            elif "text" in choice:
                keep |= self._rewrite_field(state, (idx, "text", 0), choice, "text", done)
            keep |= done
        return [chunk] if keep else []

    def _rewrite_field(
        self,
        state: PIIRequestState,
        key: tuple[int, str, int],
        holder: dict[str, Any],
        field: str,
        done: bool,
        always: bool = False,
    ) -> bool:
        text = holder.get(field)
        if not isinstance(text, str) and not (done and key in state.streams):
            return False
        rw = state.rewriter(key)
        try:
            out = rw.push(text if isinstance(text, str) else "")
            if done:
                out += rw.flush()
                state.streams.pop(key, None)
        except ServiceUnavailable:
            raise
        except Exception as exc:
            log.error("PII stream rewrite failed: %s", type(exc).__name__)
            raise ServiceUnavailable("PII engine unavailable") from None
        holder[field] = out
        return bool(out) or always

    def on_stream_end(self, ctx: RequestContext) -> list[dict[str, Any]]:
        state = ctx.pii_state
        if state is None or not state.streams:
            return []
        template = state.last_chunk or {}
        events = []
        for (idx, kind, t), rw in sorted(state.streams.items()):
            text = rw.flush()
            if not text:
                continue
            ev = {k: template[k] for k in ("id", "object", "created", "model") if k in template}
            if kind == "text":
                choice: dict[str, Any] = {"index": idx, "text": text, "finish_reason": None}
            elif kind == "args":
                choice = {
                    "index": idx,
                    "delta": {"tool_calls": [{"index": t, "function": {"arguments": text}}]},
                    "finish_reason": None,
                }
            else:  # content, reasoning_content, reasoning
                choice = {"index": idx, "delta": {kind: text}, "finish_reason": None}
            ev["choices"] = [choice]
            events.append(ev)
        state.streams.clear()
        return events


def _uses_hash(s: PIISettings) -> bool:
    if any(t.durable_pseudonyms for t in s.tenants.values()):
        return True
    ops = [s.default_operator, *s.operators.values()]
    for t in s.tenants.values():
        ops.extend(t.operators.values())
    return "hash" in ops
