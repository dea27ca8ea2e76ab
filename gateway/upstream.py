"""Upstream model servers behind one small interface, and the model router.

Like httpx's transports, every backend kind sits behind the same two calls
(``send`` and ``aclose``). The OpenAI-compatible HTTP kind covers vLLM, TGI's
Messages API, Triton's OpenAI front end and KServe's OpenAI routes. Library
exceptions are translated here, at the border, to the gateway's own errors.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from gateway.chain.errors import UnknownModel, UpstreamError, UpstreamTimeout
from gateway.config import UpstreamSettings


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    content_type: str
    _resp: aiohttp.ClientResponse

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout("the model server did not finish its answer in time") from None
        except aiohttp.ClientError:
            raise UpstreamError("the model server closed the connection mid-answer") from None
        finally:
            self._resp.release()

    async def iter_lines(self) -> AsyncIterator[bytes]:
        """Yield raw lines (SSE framing) as they arrive."""
        try:
            async for line in self._resp.content:
                yield line
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout("the model server stalled mid-stream") from None
        except aiohttp.ClientError:
            raise UpstreamError("the model server closed the stream") from None

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks as they arrive (split anywhere: the SSE relay reframes them)."""
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout("the model server stalled mid-stream") from None
        except aiohttp.ClientError:
            raise UpstreamError("the model server closed the stream") from None

    def close(self) -> None:
        """Drop the connection (used when the client went away mid-answer)."""
        self._resp.close()

    def release(self) -> None:
        self._resp.release()


class Upstream:
    """An OpenAI-compatible HTTP model server, with its own connection pool."""

    def __init__(self, settings: UpstreamSettings) -> None:
        self.name = settings.name
        self.url = settings.url
        self.labels = dict(settings.labels)
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        t = settings.timeouts
        # sock_read bounds the wait for the first byte and every later read.
        self._timeout = aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.first_byte)
        key = os.environ.get(settings.api_key_env) if settings.api_key_env else None
        self._headers = {"content-type": "application/json"}
        if key:
            self._headers["authorization"] = f"Bearer {key}"

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.settings.max_connections, keepalive_timeout=30, ttl_dns_cache=300
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            headers=self._headers,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            auto_decompress=False,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, path: str, body: bytes, request_id: str) -> UpstreamResponse:
        assert self._session is not None, "upstream not started"
        try:
            resp = await self._session.post(self.url + path, data=body, headers={"x-request-id": request_id})
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout(f"model server {self.name!r} did not answer in time") from None
        except aiohttp.ClientConnectorError:
            raise UpstreamError(f"model server {self.name!r} is unreachable") from None
        except aiohttp.ClientError:
            raise UpstreamError(f"model server {self.name!r} failed to answer") from None
        return UpstreamResponse(resp.status, resp.headers.get("content-type", ""), resp)

    async def get_json(self, path: str, timeout: float = 2.0) -> object:
        assert self._session is not None, "upstream not started"
        try:
            async with self._session.get(
                self.url + path, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                if resp.status != 200:
                    raise UpstreamError(f"model server {self.name!r} answered {resp.status} on {path}")
                return await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout(f"model server {self.name!r} did not answer in time") from None
        except (aiohttp.ClientError, ValueError):
            raise UpstreamError(f"model server {self.name!r} is unreachable") from None


class Router:
    """Model name -> upstream. Exact names win; "*" catches the rest."""

    def __init__(self, upstreams: list[Upstream]) -> None:
        self.upstreams = upstreams
        self._exact: dict[str, Upstream] = {}
        self._default: Upstream | None = None
        for up in upstreams:
            for m in up.settings.models:
                if m == "*":
                    self._default = self._default or up
                else:
                    self._exact.setdefault(m, up)

    def route(self, model: str) -> Upstream:
        up = self._exact.get(model) or self._default
        if up is None:
            raise UnknownModel(f"The model '{model}' does not exist or you do not have access to it.")
        return up

    def model_names(self) -> list[str]:
        return sorted(self._exact)

    async def start(self) -> None:
        for up in self.upstreams:
            await up.start()

    async def aclose(self) -> None:
        for up in self.upstreams:
            await up.aclose()
