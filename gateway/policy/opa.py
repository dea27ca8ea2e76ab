"""OPA-server mode: ask an OPA sidecar through ``opa-python-client``'s AsyncOpaClient.

One client (one aiohttp session, keep-alive connections) lives for the
plugin's lifetime, so decisions reuse connections. Retries are off: a retry
would blow the decision budget, and the answer on failure is to fail closed.
Errors are translated at this border: no connection -> EngineUnavailable
(503), no answer in time -> PolicyTimeout, any other failure or a non-JSON
answer -> PolicyEvalError. An OPA answer without ``result`` is undefined.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from opa_client.errors import PolicyNotFoundError
from opa_client.opa_async import AsyncOpaClient

from gateway.policy.engines.base import UNDEFINED
from gateway.policy.errors import EngineUnavailable, PolicyEvalError, PolicyTimeout
from gateway.policy.testing import TestCase, TestReport, TestResult


def make_client(url: str, *, timeout_s: float, token_env: str | None = None) -> AsyncOpaClient:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"opa_url must look like http://host:port, got {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 8181)
    token = None
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise ValueError(f"environment variable {token_env} (policy.opa_token_env) is not set")
    return AsyncOpaClient(
        host=parts.hostname, port=port, ssl=parts.scheme == "https", token=token, retries=0, timeout=timeout_s
    )


class OpaServerDecider:
    mode = "opa"

    def __init__(
        self, url: str, decision_path: str, timeout_s: float, *, token_env: str | None = None
    ) -> None:
        self.url = url
        self.decision_path = decision_path.strip("/")
        self.timeout_s = timeout_s
        self._token_env = token_env
        self._client: AsyncOpaClient | None = None
        self.revision: str | None = f"opa:{url}"

    async def start(self) -> None:
        self._client = make_client(self.url, timeout_s=self.timeout_s, token_env=self._token_env)
        await self._client._init_session()

    async def _call(self, coro: Any) -> Any:
        try:
            return await asyncio.wait_for(coro, self.timeout_s)
        except TimeoutError:
            raise PolicyTimeout("the OPA server did not answer within the decision timeout") from None
        except aiohttp.ClientResponseError as exc:
            raise PolicyEvalError(f"the OPA server answered HTTP {exc.status}") from None
        except (aiohttp.ClientConnectionError, OSError):
            raise EngineUnavailable("the OPA server cannot be reached") from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise PolicyEvalError(f"bad answer from the OPA server ({type(exc).__name__})") from None

    async def decide(self, input_doc: dict[str, Any]) -> Any:
        if self._client is None:
            raise EngineUnavailable("the OPA client is not started")
        answer = await self._call(self._client.query_rule(input_doc, self.decision_path))
        if not isinstance(answer, dict):
            raise PolicyEvalError("bad answer from the OPA server (not an object)")
        return answer.get("result", UNDEFINED)

    async def get(self, path: str) -> Any:
        """GET /v1/data/{path}: evaluate a document without input (used for test rules)."""
        if self._client is None:
            raise EngineUnavailable("the OPA client is not started")
        try:
            answer = await self._call(self._client.get_data(path.strip("/")))
        except PolicyNotFoundError:  # OPA answered without "result": undefined
            return UNDEFINED
        return answer.get("result", UNDEFINED) if isinstance(answer, dict) else UNDEFINED

    async def ready(self) -> tuple[bool, str]:
        if self._client is None:
            return False, "OPA client not started"
        try:
            ok = await asyncio.wait_for(self._client.check_health(), self.timeout_s)
        except TimeoutError:
            ok = False
        return (True, f"OPA server {self.url}") if ok else (False, f"OPA server {self.url} is not healthy")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close_connection()
            self._client = None


async def run_tests_over_opa(decider: OpaServerDecider, cases: list[TestCase]) -> TestReport:
    """Run the bundle's test rules on an OPA server: each ``data.<pkg>.<test>`` must be true."""
    report = TestReport(revision=decider.revision or "?", engine=f"opa {decider.url}")
    for case in cases:
        t0 = time.perf_counter()
        try:
            value = await decider.get(f"{case.package.replace('.', '/')}/{case.name}")
            status, message = ("pass", "") if value is True else ("fail", "rule is false or undefined")
        except (PolicyEvalError, PolicyTimeout, EngineUnavailable) as exc:
            status, message = "error", str(exc)
        report.results.append(TestResult(case, status, (time.perf_counter() - t0) * 1000, message))
    return report
