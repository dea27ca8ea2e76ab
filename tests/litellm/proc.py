"""Start the real LiteLLM proxy (from .venv-litellm) and `privacy serve` as subprocesses.

Shared by tests/litellm and bench/litellm_bench.py. Each helper is a context manager that
stops the process it started (by its pid) and prints its output if it failed to come up.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
LITELLM_VENV = ROOT / ".venv-litellm"
LITELLM_BIN = LITELLM_VENV / "bin" / "litellm"
MASTER_KEY = "sk-cg-test-master-key"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


@contextlib.contextmanager
def litellm_proxy(
    config: dict[str, Any], *, env: dict[str, str] | None = None, workers: int = 1, timeout: float = 150.0
) -> Iterator[str]:
    """Run ``litellm --config`` on a free loopback port; yields its base URL once it is live."""
    if not LITELLM_BIN.exists():
        raise RuntimeError("the LiteLLM venv is missing: run scripts/setup-litellm")
    with tempfile.TemporaryDirectory(prefix="cg-litellm-") as tmp:
        cfg = Path(tmp) / "config.yaml"
        cfg.write_text(yaml.safe_dump(config, sort_keys=False))
        log = Path(tmp) / "litellm.log"
        port = free_port()
        penv = {
            k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LITELLM_", "DATABASE_URL"))
        }
        penv.update(
            {
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_LOG": "ERROR",
                "LITELLM_TELEMETRY": "False",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        penv.update(env or {})
        cmd = [
            str(LITELLM_BIN),
            "--config",
            str(cfg),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            str(workers),
        ]
        with open(log, "wb") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=penv, cwd=tmp)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"litellm exited with {proc.returncode}:\n{_tail(log)}")
                try:
                    if httpx.get(url + "/health/liveliness", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"litellm did not come up in {timeout}s:\n{_tail(log)}")
                time.sleep(0.25)
            yield url
        finally:
            _stop(proc)


@contextlib.contextmanager
def privacy_serve(*args: str, timeout: float = 60.0) -> Iterator[str]:
    """Run ``python -m privacy serve --port 0`` from this checkout; yields its base URL."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "privacy", "serve", "--host", "127.0.0.1", "--port", "0", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        lines = []
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("privacy serve exited:\n" + "".join(lines))
            lines.append(line)
            if "listening on " in line:
                url = line.strip().rsplit(" ", 1)[-1]
                break
            if time.monotonic() > deadline:
                raise TimeoutError("privacy serve did not come up")
        yield url
    finally:
        _stop(proc)


def model_entry(name: str, upstream_url: str) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": {"model": f"openai/{name}", "api_base": upstream_url + "/v1", "api_key": "sk-none"},
    }


def client_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {MASTER_KEY}"}
