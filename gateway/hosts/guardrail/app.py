"""LiteLLM's Generic Guardrail API served by the chain: ``POST /beta/litellm_basic_guardrail_api``.

A LiteLLM proxy configured with ``guardrail: generic_guardrail_api``, ``mode: [pre_call,
post_call]`` and ``api_base`` pointing at ``gateway serve`` calls this route twice per model call:

- ``input_type: request`` (pre_call): the texts LiteLLM took from the messages become a chat
  body the chain screens like any proxied request (auth stage skipped: the host verified the
  API key and set the identity; route, rate limit, PII, policy, audit run as configured).
  Redacted texts come back as ``GUARDRAIL_INTERVENED``; a refusal (policy, rate limit, size,
  unscreenable input) as ``BLOCKED`` with the refusal's client message, which never carries
  request content. The PII session that issued pseudonyms is kept for the post_call.
- ``input_type: response`` (post_call): the model's texts go through the chain's response hooks
  with that session, so pseudonyms are restored (and PII the model produced is redacted).

Every call leaves one audit record (``host: guardrail``), durable before the answer is sent.
Fail closed: a wrong or missing key is 401, a malformed call 400 (never ``NONE``), a dependency
that cannot answer (audit store, PII engine) 503; LiteLLM turns each into an error for its
client (its ``fail_closed`` default) and the model is not called.

Tool-call arguments: LiteLLM reads back only texts and structured_messages. On a request,
rewritten arguments are returned as rewritten ``structured_messages`` rows; when LiteLLM did not
send the rows, arguments that would need redaction block the call instead of passing unredacted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeGuard
from weakref import WeakKeyDictionary

import orjson

from gateway.asgi_types import Receive, Scope, Send
from gateway.chain.context import Identity, RequestContext
from gateway.chain.core import Chain
from gateway.chain.errors import (
    Forbidden,
    GatewayError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
)
from gateway.chain.requests import check_body_headers
from gateway.config import ConfigError
from gateway.hosts.guardrail.calls import CallStore
from gateway.hosts.guardrail.keys import check_key, identity_from, load_keys
from gateway.hosts.guardrail.models import GuardrailCall, answer, parse_call
from gateway.hosts.proxy.app import ClientGone
from privacy.pii.streaming import pii_cut, token_cut

if TYPE_CHECKING:
    from gateway.chain.plugins.pii import PIIRequestState

log = logging.getLogger("gateway.guardrail")

PATH = "/beta/litellm_basic_guardrail_api"
JSON = b"application/json"


ReadBody = Callable[[Receive, "str | None"], Awaitable[bytes]]


class GuardrailHost:
    """``read_body(receive, content_length)``: the mounting host's body reader (size limit, 413,
    ClientGone when LiteLLM goes away), so both hosts read bodies one way."""

    def __init__(self, chain: Chain, read_body: ReadBody) -> None:
        self.chain = chain
        self.read_body = read_body
        self.settings = chain.config.guardrail
        self.keys = load_keys(self.settings)
        self.calls = CallStore(self.settings.call_ttl_seconds, self.settings.max_calls)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chain = self.chain
        if scope["method"] != "POST":
            await _send(send, *chain.error_response(MethodNotAllowed("use POST"), None))
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        ctx = chain.new_context(
            route="chat",
            method="POST",
            path=scope["path"],
            headers=headers,
            client=client[0] if client else None,
        )
        ctx.audit["host"] = "guardrail"
        try:
            try:
                raw = await self.read_body(receive, headers.get("content-length"))
                check_key(headers.get("x-api-key"), self.keys)
                check_body_headers(headers)
                call = parse_call(raw, chain.max_depth)
            except GatewayError as exc:
                log.info("guardrail call refused: %s", exc.code)
                raise
            ctx.identity = identity_from(call.request_data, self.settings)
            ctx.model = call.model
            facts: dict[str, Any] = {
                "input_type": call.input_type,
                "call_id": call.litellm_call_id,
                "texts": len(call.texts),
            }
            ctx.audit["guardrail"] = facts
            try:
                if call.input_type == "request":
                    out = await self._pre_call(ctx, call, facts)
                else:
                    out = await self._post_call(ctx, call, facts)
            except GatewayError as exc:
                if not 400 <= exc.status < 500:
                    raise
                # The chain refused the content: LiteLLM raises it as a guardrail error.
                chain.fail(ctx, exc)
                facts["action"] = "BLOCKED"
                out = answer("BLOCKED", blocked_reason=f"{exc.message} ({exc.code})")
            await chain.commit(ctx)
            await _send(send, 200, [("content-type", "application/json"), *chain.response_headers(ctx)], out)
        except GatewayError as exc:
            chain.fail(ctx, exc)
            try:
                await chain.commit(ctx)
            except GatewayError as audit_exc:  # the record could not be made durable: say that instead
                exc = audit_exc
            await _send(send, *chain.error_response(exc, ctx))
        except ClientGone:
            chain.cancelled(ctx)
        except asyncio.CancelledError:  # the server cancelled us (shutdown grace over): say so in the record
            chain.cancelled(ctx)
            raise
        except Exception as exc:
            err = chain.internal_error(ctx, exc, "guardrail")
            try:
                await chain.commit(ctx)
            except GatewayError as audit_exc:
                err = audit_exc
            await _send(send, *chain.error_response(err, ctx))
        finally:
            try:
                await chain.commit(ctx)  # a no-op unless the call ended without an answer
            except GatewayError:
                pass  # nobody is left to tell

    # -- pre_call: screen the request's texts -------------------------------------------------
    async def _pre_call(self, ctx: RequestContext, call: GuardrailCall, facts: dict[str, Any]) -> bytes:
        texts = call.texts
        if not texts and not call.tool_calls:
            ctx.status = 200
            facts["action"] = "NONE"
            return answer("NONE")
        rows = call.structured_messages or []
        use_rows = bool(rows) and row_texts(rows) == texts
        if use_rows:
            messages = rows
        else:
            messages = [{"role": "user", "content": t} for t in texts]
            if call.tool_calls:
                messages.append({"role": "assistant", "content": None, "tool_calls": call.tool_calls})
        body: dict[str, Any] = {"model": call.model or "litellm", "messages": messages}
        if call.tools:
            body["tools"] = call.tools
        try:
            raw = orjson.dumps(body)
        except (TypeError, orjson.JSONEncodeError):
            raise Forbidden("the request could not be screened", code="unscreenable_input") from None
        screened = orjson.loads(await self.chain.request(ctx, raw))
        new_messages = screened.get("messages")
        if not isinstance(new_messages, list) or len(new_messages) != len(messages):
            raise GatewayError("internal error: the screened request lost messages")
        rewritten_rows = None
        if use_rows:
            new_texts = row_texts(new_messages)
            if any(_tool_calls(a) != _tool_calls(b) for a, b in zip(messages, new_messages, strict=True)):
                rewritten_rows = new_messages
        else:
            new_texts = [m.get("content") for m in new_messages[: len(texts)]]
            if call.tool_calls and _tool_calls(new_messages[-1]) != call.tool_calls:
                raise Forbidden(
                    "tool-call arguments hold personal data that cannot be redacted "
                    "without structured_messages",
                    code="unredactable_tool_call",
                )
        if len(new_texts) != len(texts) or not _all_str(new_texts):
            raise GatewayError("internal error: the screened request lost texts")
        self._keep_session(ctx, call)
        ctx.status = 200
        if new_texts == texts and rewritten_rows is None:
            facts["action"] = "NONE"
            return answer("NONE")
        facts["action"] = "GUARDRAIL_INTERVENED"
        return answer("GUARDRAIL_INTERVENED", new_texts, structured_messages=rewritten_rows)

    def _keep_session(self, ctx: RequestContext, call: GuardrailCall) -> None:
        state = ctx.pii_state
        if call.litellm_call_id and state is not None and state.session.pseudonyms:
            ident = _caller(ctx)
            self.calls.put(call.litellm_call_id, ident.tenant, ident.subject, state)

    # -- post_call: restore pseudonyms, redact what the model produced -------------------------
    async def _post_call(self, ctx: RequestContext, call: GuardrailCall, facts: dict[str, Any]) -> bytes:
        ident = _caller(ctx)
        entry = (
            self.calls.get(call.litellm_call_id, ident.tenant, ident.subject)
            if call.litellm_call_id
            else None
        )
        facts["restored_session"] = entry is not None
        state = entry.pii if entry is not None else self._fresh_session(ctx)
        if state is not None:
            ctx.pii_state = state
        texts = call.texts
        if not texts:
            ctx.status = 200
            facts["action"] = "NONE"
            return answer("NONE")
        response = {
            "id": f"guardrail-{ctx.request_id}",
            "object": "chat.completion",
            "model": call.model or "litellm",
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                for i, t in enumerate(texts)
            ],
        }
        out = orjson.loads(await self.chain.response_json(ctx, orjson.dumps(response), 200))
        choices = out.get("choices") if isinstance(out, dict) else None
        if not isinstance(choices, list) or len(choices) != len(texts):
            raise GatewayError("internal error: the screened response lost texts")
        new_texts = [(c.get("message") or {}).get("content") for c in choices]
        if not _all_str(new_texts):
            raise GatewayError("internal error: the screened response lost texts")
        # Streamed calls (LiteLLM's incremental_diff mode) send the text so far and cannot take
        # back what was emitted: hold back a tail that may still become a placeholder (restored
        # once complete) or, with response redaction on, part of an identifier. LiteLLM forces
        # the hold-back to 0 on the final round; non-streamed answers ignore it.
        pii = self.chain.pipeline.plugin("pii")
        redacts = pii is not None and pii.settings.redact_responses
        holdback = [len(t) - (min(token_cut(t), pii_cut(t)) if redacts else token_cut(t)) for t in new_texts]
        if new_texts == texts:
            facts["action"] = "NONE"
            return answer("NONE", stream_holdback_chars=holdback if any(holdback) else None)
        facts["action"] = "GUARDRAIL_INTERVENED"
        return answer(
            "GUARDRAIL_INTERVENED", new_texts, stream_holdback_chars=holdback if any(holdback) else None
        )

    def _fresh_session(self, ctx: RequestContext) -> PIIRequestState | None:
        """No pre_call session (expired, or post_call only): PII the model produced is still redacted."""
        pii = self.chain.pipeline.plugin("pii")
        if pii is None:
            return None
        from gateway.chain.plugins.pii import PIIPlugin, PIIRequestState

        if not isinstance(pii, PIIPlugin):  # a plugin registered as "pii" that is not the PII stage
            return None
        return PIIRequestState(pii, ctx, _caller(ctx).tenant, None, [])


def _caller(ctx: RequestContext) -> Identity:
    """The caller the host set from LiteLLM's request_data before any stage ran."""
    if ctx.identity is None:
        raise RuntimeError("guardrail call without an identity")
    return ctx.identity


def _all_str(values: list[Any]) -> TypeGuard[list[str]]:
    return all(isinstance(v, str) for v in values)


def row_texts(rows: list[dict[str, Any]]) -> list[Any]:
    """The texts LiteLLM extracts from message rows, in its order (string content, then each
    content part's ``text``), so rows and texts can be matched one to one."""
    out: list[Any] = []
    for row in rows:
        content = row.get("content") if isinstance(row, dict) else None
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.extend(
                part.get("text")
                for part in content
                if isinstance(part, dict) and part.get("text") is not None
            )
    return out


def _tool_calls(row: Any) -> Any:
    return row.get("tool_calls") if isinstance(row, dict) else None


async def _send(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    h = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    h.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": h})
    await send({"type": "http.response.body", "body": body})


_HOSTS: WeakKeyDictionary[Chain, GuardrailHost] = WeakKeyDictionary()


async def handle(chain: Chain, scope: Scope, receive: Receive, send: Send, read_body: ReadBody) -> None:
    """The route `gateway serve` mounts: one GuardrailHost per chain, built on first use."""
    host = _HOSTS.get(chain)
    if host is None:
        if not chain.config.guardrail.enabled:
            await _send(send, *chain.error_response(NotFound(f"no route for {scope['method']} {PATH}"), None))
            return
        try:
            host = GuardrailHost(chain, read_body)
        except ConfigError as exc:  # a key file named in the config cannot be read: refuse every call
            log.error("guardrail API disabled: %s", exc)
            await _send(
                send,
                *chain.error_response(
                    ServiceUnavailable("the guardrail API is misconfigured", code="guardrail_misconfigured"),
                    None,
                ),
            )
            return
        _HOSTS[chain] = host
    await host(scope, receive, send)
