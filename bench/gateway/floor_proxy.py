"""The floor for a Python proxy: a bare ASGI app that forwards the body with aiohttp.

No parsing, no plugins, no metrics: what uvicorn (uvloop + httptools) plus one
pooled aiohttp session cost per request on this machine. The gateway's own cost
is what it adds on top of this.

    python bench/gateway/floor_proxy.py PORT UPSTREAM_URL
"""

from __future__ import annotations

import sys

import aiohttp
import uvicorn

UPSTREAM = sys.argv[2].rstrip("/") if len(sys.argv) > 2 else "http://127.0.0.1:8000"
_session: aiohttp.ClientSession | None = None


async def app(scope, receive, send):  # noqa: ANN001, ANN201 - a bare ASGI callable
    global _session
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                _session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await _session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    if scope["path"] == "/healthz":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    async with _session.post(
        UPSTREAM + scope["path"], data=body, headers={"content-type": "application/json"}
    ) as resp:
        data = await resp.read()
        status = resp.status
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": data})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )
