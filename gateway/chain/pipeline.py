"""The plugin chain, built once at start-up from the config.

Reading this file tells you the order every request goes through:

    request  -> plugins[0].on_request -> ... -> plugins[n].on_request -> upstream
    response <- plugins[0].on_response <- ... <- plugins[n].on_response <- upstream
    after    -> plugins[0].on_complete -> ... -> plugins[n].on_complete

The router (model -> upstream) is a stage of its own, placed right after
authentication so that an anonymous caller learns nothing about which models
exist. Hooks a plugin does not override are left out of the per-request loops
entirely, so an unused hook costs nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import ValidationError

from gateway.chain.context import RequestContext
from gateway.chain.errors import GatewayError, log_internal_error
from gateway.chain.plugins import Plugin, resolve
from gateway.config import ConfigError, GatewayConfig, format_validation_error
from gateway.upstream import Router

log = logging.getLogger("gateway.chain.pipeline")


class RouteStage(Plugin):
    """Resolves ctx.model to an upstream (404 for unknown models)."""

    name = "route"

    def __init__(self, router: Router) -> None:
        super().__init__(None, None)
        self.router = router

    async def on_request(self, ctx: RequestContext) -> None:
        if ctx.model is not None:
            ctx.upstream = self.router.route(ctx.model)


def _overrides(plugin: Plugin, hook: str) -> bool:
    return getattr(type(plugin), hook) is not getattr(Plugin, hook)


def build_plugins(config: GatewayConfig) -> list[Plugin]:
    plugins: list[Plugin] = []
    for i, spec in enumerate(config.plugins):
        if not spec.enabled:
            continue
        try:
            cls = resolve(spec.name)
        except (LookupError, ImportError) as exc:
            raise ConfigError(f"invalid configuration: plugins.{i}.name: {exc}") from None
        section = getattr(cls, "section", None)
        raw = getattr(config, section) if section else spec.settings
        if hasattr(raw, "model_dump"):
            settings = raw  # a section gateway.config already validated
        else:
            try:
                settings = cls.Settings.model_validate(raw or {})
            except ValidationError as exc:
                where = section or f"plugins.{i}.settings"
                raise ConfigError(format_validation_error(exc, where)) from None
        plugins.append(cls(settings, config))
    return plugins


class Pipeline:
    def __init__(self, plugins: list[Plugin], router: Router) -> None:
        stages: list[Plugin] = list(plugins)
        auth_at = next((i for i, p in enumerate(stages) if p.name == "auth"), -1)
        stages.insert(auth_at + 1, RouteStage(router))
        self.stages = stages
        self.plugins = plugins
        self.router = router
        self._request = [(p.name, p.on_request) for p in stages if _overrides(p, "on_request")]
        self._response = [(p.name, p.on_response) for p in reversed(stages) if _overrides(p, "on_response")]
        self._chunk = [
            p for p in reversed(stages) if _overrides(p, "on_chunk") or _overrides(p, "on_stream_end")
        ]
        self._complete = [p for p in stages if _overrides(p, "on_complete")]
        self._auth = [(p.name, p.on_request) for p in stages if p.name == "auth"]

    @property
    def rewrites_chunks(self) -> bool:
        return bool(self._chunk)

    @property
    def rewrites_responses(self) -> bool:
        return bool(self._response)

    def plugin(self, name: str) -> Plugin | None:
        return next((p for p in self.plugins if p.name == name), None)

    async def startup(self) -> None:
        await self.router.start()
        for p in self.plugins:
            await p.startup()

    async def shutdown(self) -> None:
        for p in reversed(self.plugins):
            try:
                await p.shutdown()
            except Exception as exc:
                log_internal_error(log, f"plugin {p.name} shutdown", exc)
        await self.router.aclose()

    async def authenticate(self, ctx: RequestContext) -> None:
        """Only the auth stage (for routes such as /v1/models)."""
        await self._run(self._auth, ctx)

    async def on_request(self, ctx: RequestContext) -> None:
        await self._run(self._request, ctx)

    async def on_response(self, ctx: RequestContext) -> None:
        await self._run(self._response, ctx)

    @staticmethod
    async def _run(hooks: list[tuple[str, Any]], ctx: RequestContext) -> None:
        timings = ctx.timings
        clock = time.perf_counter
        for name, hook in hooks:
            t0 = clock()
            try:
                await hook(ctx)
            finally:
                timings[name] = timings.get(name, 0.0) + (clock() - t0)

    def on_chunk(self, ctx: RequestContext, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        events = [chunk]
        for p in self._chunk:
            out: list[dict[str, Any]] = []
            for ev in events:
                out.extend(p.on_chunk(ctx, ev))
            events = out
            if not events:
                break
        return events

    def on_stream_end(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Flush held-back events, passing each plugin's flush through the later plugins."""
        pending: list[dict[str, Any]] = []
        for p in self._chunk:
            out: list[dict[str, Any]] = []
            for ev in pending:
                out.extend(p.on_chunk(ctx, ev))
            out.extend(p.on_stream_end(ctx))
            pending = out
        return pending

    async def on_complete(self, ctx: RequestContext) -> None:
        for p in self._complete:
            try:
                await p.on_complete(ctx)
            except GatewayError as exc:
                log.warning("plugin %s on_complete refused: %s", p.name, exc.code)
            except Exception as exc:
                log_internal_error(log, f"plugin {p.name} on_complete", exc)
