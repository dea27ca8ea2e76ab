"""A small server speaking OPA's REST Data API, on top of the embedded engine.

The OPA binary cannot be installed here, so OPA-server mode is tested against
this: real HTTP on loopback, the endpoints the gateway and ``opa-python-client``
use, OPA's response shapes:

- ``POST /v1/data/{path}`` with ``{"input": ...}`` -> ``{"result": value}``, or
  ``{}`` when the document is undefined;
- ``GET /v1/data/{path}`` -> the same, without input (test rules);
- ``GET /health`` -> 200;
- errors -> ``{"code": "internal_error", "message": ...}`` with 500, bad JSON -> 400.

It records the peer of every request so tests can check connection reuse, and
can be told to stall (``delay_s``) or fail to test timeouts and fail-closed paths.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from gateway.policy.engines import UNDEFINED, CompiledPolicy
from gateway.policy.errors import PolicyError


class OpaRestServer:
    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.delay_s = 0.0
        self.fail_with: int | None = None
        self.peers: list[tuple[str, int]] = []
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _eval(self, request: web.Request, input_json: str | None) -> web.Response:
        self.requests += 1
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.peers.append((peer[0], peer[1]))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_with:
            return web.json_response(
                {"code": "internal_error", "message": "injected failure"}, status=self.fail_with
            )
        path = request.match_info["path"].strip("/")
        try:
            value = self.policy.evaluate_json(path, input_json)
        except PolicyError as exc:
            return web.json_response({"code": "internal_error", "message": str(exc)}, status=500)
        return web.json_response({} if value is UNDEFINED else {"result": value})

    async def post_data(self, request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else {}
        except json.JSONDecodeError:
            return web.json_response({"code": "invalid_parameter", "message": "body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response(
                {"code": "invalid_parameter", "message": "body must be an object"}, status=400
            )
        inp = body.get("input")
        return await self._eval(request, None if inp is None else json.dumps(inp))

    async def get_data(self, request: web.Request) -> web.Response:
        return await self._eval(request, None)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def start(self) -> OpaRestServer:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/data/{path:.*}", self.post_data)
        app.router.add_get("/v1/data/{path:.*}", self.get_data)
        app.router.add_get("/health", self.health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def serve(policy: CompiledPolicy) -> Any:
    return await OpaRestServer(policy).start()


class ThreadedOpaServer:
    """The same server on its own thread and event loop (for synchronous callers such as the CLI).

    The engine is compiled inside that thread: a regorus engine must stay on its thread.
    """

    def __init__(self, bundle_dir: str) -> None:
        import threading

        self.bundle_dir = bundle_dir
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.url = ""

    def _main(self) -> None:
        from gateway.policy.bundle import load_bundle
        from gateway.policy.engines import get_engine

        async def run() -> None:
            policy = get_engine("regorus").compile(load_bundle(self.bundle_dir), ["gateway/authz/decision"])
            server = await OpaRestServer(policy).start()
            self.url = server.url
            self._stop = asyncio.Event()
            self._ready.set()
            await self._stop.wait()
            await server.stop()
            policy.close()

        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(run())
        self._loop.close()

    def __enter__(self) -> ThreadedOpaServer:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("OPA test server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
