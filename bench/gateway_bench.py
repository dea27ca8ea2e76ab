"""The gateway's latency and throughput, as ratios against baselines in the same run.

Targets, all in front of one instant upstream (nginx ``return 200`` with a fixed
chat.completion), all driven by ``wrk`` with the same POST and Authorization header:

    direct      the instant upstream itself
    nginx       nginx as a plain reverse proxy (the floor for any proxy)
    litellm     LiteLLM's proxy (its own venv, created on demand), master key
    python-floor  a bare ASGI app forwarding with aiohttp under uvicorn (optional):
                the least a Python proxy on this stack costs
    gateway     ``gateway serve``: auth + rate limit + audit on, PII and policy off
    gateway-granian   the same app under granian instead of uvicorn (optional)

At each concurrency (default 1 and 64) it reports p50/p90/p99 latency, req/s, the
latency added over ``direct`` and the throughput ratio to direct, nginx and
LiteLLM, as a text table and as JSON under bench/results/.

Needs ``nginx`` and ``wrk`` (Debian: ``apt-get install -y nginx wrk``). Run:

    python bench/gateway_bench.py                      # every target, 8 s each
    python bench/gateway_bench.py --targets direct,nginx,gateway --duration 5
    python bench/gateway_bench.py --clients            # also aiohttp vs httpx
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "bench" / "gateway"
RESULTS = ROOT / "bench" / "results"
BENCH_VENVS = Path(os.environ.get("CG_BENCH_VENVS", "/work/.bench-venvs"))
LITELLM_MASTER_KEY = "sk-bench-master-key"
CHAT_BODY = b'{"model":"bench","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16}'
INSTANT_ANSWER = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "bench",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!"},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 14, "completion_tokens": 3, "total_tokens": 17},
}


class BenchError(Exception):
    """A target could not be started or did not answer correctly."""


# -- processes --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(template: str, **subs: object) -> str:
    text = (HERE / template).read_text()
    for key, value in subs.items():
        text = text.replace(f"@{key}@", str(value))
    left = re.search(r"@[A-Z_]+@", text)
    if left:
        raise BenchError(f"{template}: unfilled placeholder {left.group()}")
    return text


def wait_http(
    url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise BenchError(f"process for {url} exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError(f"{url} did not answer within {timeout:.0f} s")


def post_once(url: str, token: str) -> dict:
    req = urllib.request.Request(
        url, data=CHAT_BODY, headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise BenchError(f"{url} answered {e.code}: {e.read()[:300]!r}") from None


@dataclass
class Target:
    name: str
    url: str  # the chat completions URL
    token: str
    notes: str = ""
    proc: subprocess.Popen | None = None


class Stack:
    """Starts the services into one scratch folder and stops them all at the end."""

    def __init__(self, keep: bool = False):
        self.dir = Path(tempfile.mkdtemp(prefix="cg-bench-"))
        self.keep = keep
        self.procs: list[subprocess.Popen] = []
        self.upstream_port = 0
        self.upstream_proc: subprocess.Popen | None = None

    def spawn(
        self, name: str, cmd: list[str], env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen, Path]:
        log = self.dir / f"{name}.log"
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc, log

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- the services ---------------------------------------------------------------
    def nginx(self, name: str, conf: str) -> None:
        path = self.dir / f"{name}.conf"
        path.write_text(conf)
        proc, log = self.spawn(name, [_need("nginx"), "-p", str(self.dir), "-c", str(path)])
        return proc, log

    def start_upstream(self) -> int:
        self.upstream_port = port = free_port()
        body = json.dumps(INSTANT_ANSWER, separators=(",", ":"))
        proc, log = self.nginx("upstream", render("nginx-upstream.conf", DIR=self.dir, PORT=port, BODY=body))
        wait_http(f"http://127.0.0.1:{port}/", 15, proc, log)
        self.upstream_proc = proc
        return port


def _need(tool: str) -> str:
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None)
    if path is None:
        raise BenchError(f"{tool} not found: install it with 'apt-get install -y {tool}'")
    return path


# -- targets ------------------------------------------------------------------------
def target_direct(stack: Stack, args: argparse.Namespace) -> Target:
    return Target(
        "direct",
        f"http://127.0.0.1:{stack.upstream_port}/v1/chat/completions",
        "direct-token",
        proc=stack.upstream_proc,
    )


def target_nginx(stack: Stack, args: argparse.Namespace) -> Target:
    port = free_port()
    conf = render(
        "nginx-proxy.conf",
        DIR=stack.dir,
        PORT=port,
        UPSTREAM_PORT=stack.upstream_port,
        WORKERS=args.nginx_workers,
    )
    proc, log = stack.nginx("proxy", conf)
    wait_http(f"http://127.0.0.1:{port}/", 15, proc, log)
    return Target(
        "nginx",
        f"http://127.0.0.1:{port}/v1/chat/completions",
        "nginx-token",
        f"{args.nginx_workers} worker(s)",
        proc,
    )


def ensure_litellm() -> Path:
    """LiteLLM lives in its own venv (its pins clash with ours); created on first use."""
    venv = BENCH_VENVS / "litellm"
    exe = venv / "bin" / "litellm"
    if exe.exists():
        return exe
    print(f"creating {venv} and installing 'litellm[proxy]' (once, a few minutes)", file=sys.stderr)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True)
    return exe


def _litellm_version(exe: Path) -> str:
    out = subprocess.run(
        [str(exe.parent / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "unknown"


def target_litellm(stack: Stack, args: argparse.Namespace) -> Target:
    exe = ensure_litellm()
    port = free_port()
    cfg = stack.dir / "litellm.yaml"
    cfg.write_text(render("litellm.yaml", UPSTREAM_PORT=stack.upstream_port))
    env = {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_MASTER_KEY": LITELLM_MASTER_KEY,
        "LITELLM_LOG": "ERROR",
        "DISABLE_ADMIN_UI": "True",
        "NO_DOCS": "True",
    }
    cmd = [str(exe), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    proc, log = stack.spawn("litellm", cmd, env)
    wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180, proc, log)
    return Target(
        "litellm",
        f"http://127.0.0.1:{port}/v1/chat/completions",
        LITELLM_MASTER_KEY,
        f"litellm {_litellm_version(exe)}, 1 worker",
        proc,
    )


def _audit_store(stack: Stack, args: argparse.Namespace) -> str:
    kind = args.audit_store
    if kind == "auto":  # the audit package's chained SQLite store, once it exists
        has_writer = (ROOT / "audit" / "writer.py").exists() or (ROOT / "audit" / "writer").is_dir()
        kind = "sqlite" if has_writer else "jsonl"
    path = stack.dir / ("audit.db" if kind == "sqlite" else "audit.jsonl")
    return f"{kind}://{path}"  # an absolute path: sqlite:///tmp/..., as the gateway reads it


def _gateway_setup(
    stack: Stack, args: argparse.Namespace, chain: str | None = None
) -> tuple[Path, dict[str, str], str, int, str]:
    port = free_port()
    store = _audit_store(stack, args)
    cfg = stack.dir / f"gateway-{port}.yaml"
    text = render("gateway.yaml", PORT=port, UPSTREAM_PORT=stack.upstream_port, AUDIT_STORE=store)
    cfg.write_text(
        text.replace(
            "plugins: [auth, ratelimit, audit]",
            f"plugins: [{args.gateway_plugins if chain is None else chain}]",
        )
    )
    env = {"CG_HOME": str(stack.dir / "cg-home"), "PYTHONPATH": str(ROOT)}
    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "token",
            "--sub",
            "bench",
            "--tenant",
            "bench",
            "--role",
            "user",
            "--ttl",
            "86400",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return cfg, env, token, port, store


def target_gateway(
    stack: Stack,
    args: argparse.Namespace,
    chain: str | None = None,
    name: str = "gateway",
    durable: bool = True,
) -> Target:
    cfg, env, token, port, store = _gateway_setup(stack, args, chain)
    if not durable:  # answers leave once their record is queued: what the durability guarantee costs
        cfg.write_text(cfg.read_text().replace("audit:\n", "audit:\n  wait_for_durable: false\n"))
    profile = ["-m", "cProfile", "-o", str(stack.dir / f"{name}.prof")] if args.profile else []
    cmd = [
        sys.executable,
        *profile,
        "-m",
        "gateway",
        "serve",
        "--config",
        str(cfg),
        "--log-level",
        "warning",
        "--workers",
        str(args.gateway_workers),
    ]
    proc, log = stack.spawn(name, cmd, env)
    wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc, log)
    plugins = args.gateway_plugins if chain is None else chain
    return Target(
        name,
        f"http://127.0.0.1:{port}/v1/chat/completions",
        token,
        f"uvicorn+uvloop+httptools, aiohttp client, [{plugins}], audit {store.split(':')[0]}, "
        f"{args.gateway_workers} worker(s)"
        + ("" if durable else ", answers NOT held for the record")
        + (" (under cProfile: slower)" if args.profile else ""),
        proc,
    )


def profile_report(stack: Stack, target: Target, out: Path, top: int = 30) -> str:
    """Stop the profiled gateway cleanly (cProfile writes on exit) and list where the time went."""
    import io
    import pstats

    assert target.proc is not None
    # SIGINT, not SIGTERM: uvicorn re-raises the signal after its graceful shutdown, and only
    # SIGINT turns into an exception (KeyboardInterrupt) that lets cProfile write its file.
    target.proc.send_signal(signal.SIGINT)
    target.proc.wait(timeout=30)
    prof = stack.dir / f"{target.name}.prof"
    if not prof.exists():
        return "no profile written (the gateway did not exit cleanly)"
    shutil.copy(prof, out)
    buf = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buf)
    by_area: dict[str, float] = {}
    for (filename, _line, _func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        by_area[_area(filename)] = by_area.get(_area(filename), 0.0) + tottime
    total = sum(by_area.values()) or 1.0
    buf.write("own time by area:\n")
    for area, t in sorted(by_area.items(), key=lambda kv: -kv[1])[:15]:
        buf.write(f"  {area:<34}{t:8.3f} s  {100 * t / total:5.1f} %\n")
    buf.write("\n")
    stats.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def _area(filename: str) -> str:
    """Group a profiled function by where it lives: a package, ours, the stdlib, C builtins."""
    if not filename:
        return "unknown"
    if filename.startswith("~") or filename.startswith("<"):
        return "C builtins (socket, json, ...)" if filename.startswith("~") else "frozen/import"
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    try:
        return "ours: " + Path(filename).resolve().relative_to(ROOT).parts[0]
    except (ValueError, IndexError):
        pass
    if "/lib/python3" in filename:
        rest = filename.split("/lib/python3", 1)[1].split("/", 2)
        return "stdlib: " + (rest[1].removesuffix(".py") if len(rest) > 1 else "?")
    return filename


def target_floor(stack: Stack, args: argparse.Namespace) -> Target:
    """A bare ASGI + aiohttp forwarder: the least any Python proxy on this stack costs."""
    port = free_port()
    cmd = [sys.executable, str(HERE / "floor_proxy.py"), str(port), f"http://127.0.0.1:{stack.upstream_port}"]
    proc, log = stack.spawn("floor", cmd)
    wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc, log)
    return Target(
        "python-floor",
        f"http://127.0.0.1:{port}/v1/chat/completions",
        "floor-token",
        "bare ASGI app under uvicorn+uvloop+httptools, one aiohttp session",
        proc,
    )


def ensure_granian() -> Path:
    """granian goes into its own --target folder: nothing of the shared venv changes."""
    site = BENCH_VENVS / "granian-site"
    if not (site / "granian").is_dir():
        print(f"installing granian into {site} (once)", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--target", str(site), "granian"], check=True
        )
    return site


def target_gateway_granian(stack: Stack, args: argparse.Namespace) -> Target:
    site = ensure_granian()
    cfg, env, token, port, store = _gateway_setup(stack, args)
    env = {
        **env,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE), str(site)]),
        "CG_BENCH_CONFIG": str(cfg),
    }
    cmd = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "uvloop",
        "--no-ws",
        "--log-level",
        "warning",
        "--factory",
        "granian_app:create",
    ]
    proc, log = stack.spawn("gateway-granian", cmd, env)
    wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc, log)
    return Target(
        "gateway-granian",
        f"http://127.0.0.1:{port}/v1/chat/completions",
        token,
        f"granian (1 worker, uvloop), [{args.gateway_plugins}], audit {store.split(':')[0]}",
        proc,
    )


TARGETS: dict[str, Callable[[Stack, argparse.Namespace], Target]] = {}


def register(name: str, start: Callable[[Stack, argparse.Namespace], Target]) -> None:
    TARGETS[name] = start


register("direct", target_direct)
register("nginx", target_nginx)
register("litellm", target_litellm)
register("python-floor", target_floor)
register("gateway", target_gateway)
register("gateway-nodurable", functools.partial(target_gateway, name="gateway-nodurable", durable=False))
register("gateway-granian", target_gateway_granian)
DEFAULT_TARGETS = ["direct", "nginx", "litellm", "python-floor", "gateway", "gateway-nodurable"]


def durability_cost(runs: list[Run]) -> list[dict]:
    """The price of "no answer without its record": gateway vs gateway-nodurable, same run."""
    by = {(r.target, r.concurrency): r for r in runs}
    out = []
    for (name, c), r in sorted(by.items(), key=lambda kv: kv[0][1]):
        base = by.get(("gateway-nodurable", c))
        if name != "gateway" or base is None or base.rps <= 0:
            continue
        out.append(
            {
                "concurrency": c,
                "added_p50_ms": round(r.p50_ms - base.p50_ms, 3),
                "added_p99_ms": round(r.p99_ms - base.p99_ms, 3),
                "rps_durable": round(r.rps),
                "rps_not_durable": round(base.rps),
                "rps_ratio": round(r.rps / base.rps, 3),
            }
        )
    return out


# -- measuring ----------------------------------------------------------------------
@dataclass
class Run:
    target: str
    concurrency: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    # CPU the target's own processes spent per request: robust to noisy neighbours
    # on a shared machine, where req/s and latency measure the scheduler as much as the proxy.
    cpu_us_per_req: float | None = None

    @property
    def valid(self) -> bool:
        return not any(self.errors.values()) and self.requests > 0


def cpu_seconds(proc: subprocess.Popen | None) -> float | None:
    """User+system CPU of a process and its children (nginx workers, granian workers)."""
    if proc is None:
        return None
    try:
        import psutil

        root = psutil.Process(proc.pid)
        total = 0.0
        for p in [root, *root.children(recursive=True)]:
            t = p.cpu_times()
            total += t.user + t.system
        return total
    except Exception:  # psutil missing or the process went away: no CPU column
        return None


# --prompt-bytes: a realistic support prompt with personal data (the PII stage's workload).
PROMPT_BODY: str | None = None
_PROMPT_SENTENCES = [
    "Hello, my name is Laura Chen and I am writing about order 4471-{n} from last week.",
    "You can reach me at laura.chen@example.org or on +1 415 555 0199 in the afternoons.",
    "The invoice INV-2024-0033 shows version 2.3.1 of the EKS add-on and an S3 bucket in eu-west-1.",
    "My colleague Daniel Fischer (daniel.fischer@example.de) says error 502 appears after port 8443 restarts.",
    "我的手机号是13812345678，身份证号码是11010519491231002X，请尽快联系我。",
    "Please summarise the problem and suggest next steps for our platform team in two sentences.",
]


def _prompt_body(n_bytes: int) -> str:
    text, i = "", 0
    while len(text.encode()) < n_bytes:
        text += _PROMPT_SENTENCES[i % len(_PROMPT_SENTENCES)] + " "
        i += 1
    return json.dumps(
        {"model": "bench", "max_tokens": 16, "messages": [{"role": "user", "content": text.strip()}]},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def run_wrk(target: Target, concurrency: int, seconds: float, timeout_s: float = 10) -> Run:
    threads = 1 if concurrency == 1 else min(2, concurrency)
    cmd = [
        _need("wrk"),
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={round(timeout_s)}s",
        "--latency",
        "-s",
        str(HERE / "post.lua"),
        target.url,
    ]
    cpu_before = cpu_seconds(target.proc)
    env = {**os.environ, "BENCH_TOKEN": target.token}
    if PROMPT_BODY:
        env["BENCH_BODY"] = PROMPT_BODY
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60)
    cpu_after = cpu_seconds(target.proc)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise BenchError(f"wrk gave no summary for {target.name}: {out.stderr[-500:] or out.stdout[-500:]}")
    s = json.loads(line[len("BENCH_JSON ") :])
    secs = s["duration_us"] / 1e6
    errors = {k: s[k] for k in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")}
    cpu_us = None
    if cpu_before is not None and cpu_after is not None and s["requests"]:
        cpu_us = round((cpu_after - cpu_before) / s["requests"] * 1e6, 1)
    return Run(
        target.name,
        concurrency,
        s["requests"],
        round(secs, 2),
        round(s["requests"] / secs, 1),
        s["p50_us"] / 1000,
        s["p90_us"] / 1000,
        s["p99_us"] / 1000,
        round(s["mean_us"] / 1000, 3),
        errors,
        cpu_us,
    )


def ratios(runs: list[Run]) -> list[dict]:
    """Per target and concurrency: latency added over direct, throughput over each baseline."""
    by = {(r.target, r.concurrency): r for r in runs}
    rows = []
    for r in runs:
        row: dict = {"target": r.target, "concurrency": r.concurrency}
        direct = by.get(("direct", r.concurrency))
        if direct:
            row["added_p50_ms"] = round(r.p50_ms - direct.p50_ms, 3)
            row["added_p99_ms"] = round(r.p99_ms - direct.p99_ms, 3)
        for base in ("direct", "nginx", "litellm", "python-floor"):
            b = by.get((base, r.concurrency))
            if b and b.rps > 0:
                row[f"rps_vs_{base}"] = round(r.rps / b.rps, 3)
            if b and b.cpu_us_per_req and r.cpu_us_per_req:  # what one core could serve, relative
                row[f"cpu_efficiency_vs_{base}"] = round(b.cpu_us_per_req / r.cpu_us_per_req, 3)
        if r.cpu_us_per_req:
            row["one_core_rps"] = round(1e6 / r.cpu_us_per_req)
        rows.append(row)
    return rows


def table(runs: list[Run], rows: list[dict]) -> str:
    head = (
        f"{'target':<26}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'+p50 ms':>9}{'+p99 ms':>9}"
        f"{'x direct':>10}{'x nginx':>9}{'x litellm':>11}{'x floor':>9}{'cpu us/req':>11}  note"
    )
    lines = [head, "-" * len(head)]

    def fmt(v: float | None, w: int, p: int = 3) -> str:
        return f"{v:>{w}.{p}f}" if v is not None else f"{'-':>{w}}"

    for r, row in zip(runs, rows, strict=True):
        note = "" if r.valid else "ERRORS " + ",".join(f"{k}={v}" for k, v in r.errors.items() if v)
        lines.append(
            f"{r.target:<26}{r.concurrency:>5}{r.rps:>10.0f}{r.p50_ms:>9.3f}{r.p99_ms:>9.3f}"
            f"{fmt(row.get('added_p50_ms'), 9)}{fmt(row.get('added_p99_ms'), 9)}"
            f"{fmt(row.get('rps_vs_direct'), 10)}{fmt(row.get('rps_vs_nginx'), 9)}"
            f"{fmt(row.get('rps_vs_litellm'), 11, 1)}{fmt(row.get('rps_vs_python-floor'), 9)}"
            f"{fmt(r.cpu_us_per_req, 11, 0)}  {note}"
        )
    return "\n".join(lines)


# -- the upstream-client comparison ------------------------------------------------
def compare_clients(stack: Stack, args: argparse.Namespace) -> list[dict]:
    """aiohttp vs httpx as the gateway's upstream client, alone, against the instant upstream."""
    url = f"http://127.0.0.1:{stack.upstream_port}/v1/chat/completions"
    results = []
    for client in ("aiohttp", "httpx"):
        out = subprocess.run(
            [
                sys.executable,
                str(HERE / "upstream_clients.py"),
                client,
                url,
                str(args.client_concurrency),
                str(args.duration),
            ],
            capture_output=True,
            text=True,
            timeout=args.duration + 120,
        )
        if out.returncode != 0:
            raise BenchError(f"client bench {client} failed: {out.stderr[-500:]}")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = results[0]["rps"]
    for r in results:
        r["rps_vs_aiohttp"] = round(r["rps"] / base, 3) if base else None
    return results


# -- main -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--targets",
        default=",".join(DEFAULT_TARGETS),
        help=f"comma-separated, from {', '.join(TARGETS)} (default: %(default)s)",
    )
    ap.add_argument("--concurrency", default="1,64", help="comma-separated wrk connection counts")
    ap.add_argument("--duration", type=float, default=8, help="seconds per target and concurrency")
    ap.add_argument("--warmup", type=float, default=1, help="seconds of unmeasured load first")
    ap.add_argument("--nginx-workers", type=int, default=1)
    ap.add_argument(
        "--gateway-plugins",
        default="auth, ratelimit, audit",
        help="the gateway's chain (diagnostics: drop one to see its cost)",
    )
    ap.add_argument(
        "--chain-sweep",
        default=None,
        metavar="CHAINS",
        help="extra gateway targets, one per chain, ';'-separated ('-' = no plugins), "
        "e.g. 'auth,ratelimit;auth;-'",
    )
    ap.add_argument("--audit-store", choices=["auto", "sqlite", "jsonl"], default="auto")
    ap.add_argument(
        "--clients", action="store_true", help="also compare aiohttp and httpx as upstream clients"
    )
    ap.add_argument("--client-concurrency", type=int, default=64)
    ap.add_argument(
        "--profile",
        action="store_true",
        help="run the gateway under cProfile and print where its time goes (tottime)",
    )
    ap.add_argument("--gateway-workers", type=int, default=1, help="gateway worker processes (default 1)")
    ap.add_argument(
        "--prompt-bytes",
        type=int,
        default=0,
        help="send a realistic prompt of about N bytes with personal data (e.g. 1024 with pii on)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (configs, logs)")
    ap.add_argument("--out", type=Path, default=None, help="JSON result path (default bench/results/...)")
    return ap.parse_args(argv)


@contextlib.contextmanager
def _stack(keep: bool) -> Iterator[Stack]:
    stack = Stack(keep)
    try:
        yield stack
    finally:
        stack.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    global PROMPT_BODY
    if args.prompt_bytes:
        PROMPT_BODY = _prompt_body(args.prompt_bytes)
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    for chain in filter(None, (c.strip() for c in (args.chain_sweep or "").split(";"))):
        # one more gateway per chain: what each plugin costs, measured side by side
        label = "none" if chain == "-" else chain.replace(" ", "")
        name = f"gw[{label}]"
        register(name, functools.partial(target_gateway, chain="" if chain == "-" else chain, name=name))
        names.append(name)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        print(f"unknown target(s) {unknown}; choose from {list(TARGETS)}", file=sys.stderr)
        return 2
    levels = [int(c) for c in args.concurrency.split(",")]
    runs: list[Run] = []
    notes: dict[str, str] = {}
    failed: dict[str, str] = {}
    client_results: list[dict] = []
    profile_text = ""
    gateway_target: Target | None = None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with _stack(args.keep) as stack:
        try:
            _need("wrk")
            stack.start_upstream()
        except BenchError as exc:
            print(f"gateway_bench: {exc}", file=sys.stderr)
            return 2
        bar = tqdm(total=len(names) * len(levels), desc="bench", unit="run", file=sys.stderr)
        for name in names:
            bar.set_postfix_str(f"starting {name}")
            try:
                target = TARGETS[name](stack, args)
                answer = post_once(target.url, target.token)
                if not answer.get("choices"):
                    raise BenchError(f"{name} answered without choices: {str(answer)[:200]}")
            except (BenchError, subprocess.CalledProcessError, OSError) as exc:
                failed[name] = str(exc)[-800:]
                print(f"\n{name}: skipped: {failed[name]}", file=sys.stderr)
                bar.update(len(levels))
                continue
            notes[name] = target.notes
            if name == "gateway":
                gateway_target = target
            for c in levels:
                bar.set_postfix_str(f"{name} c={c}")
                if args.warmup > 0:
                    run_wrk(target, c, args.warmup)
                runs.append(run_wrk(target, c, args.duration))
                bar.update(1)
        bar.close()
        if args.clients:
            client_results = compare_clients(stack, args)
        if args.profile and gateway_target is not None:
            RESULTS.mkdir(parents=True, exist_ok=True)
            profile_text = profile_report(stack, gateway_target, RESULTS / f"gateway-{stamp}.prof")
        if args.keep:
            print(f"scratch folder kept: {stack.dir}", file=sys.stderr)
    runs.sort(key=lambda r: (r.concurrency, names.index(r.target)))  # stable: by level, then as asked
    rows = ratios(runs)
    print(table(runs, rows))
    for name, note in notes.items():
        if note:
            print(f"  {name}: {note}")
    for name, why in failed.items():
        print(f"  {name}: NOT MEASURED: {why.splitlines()[0] if why else ''}")
    durability = durability_cost(runs)
    if durability:
        print(
            "\ndurability (answers held until their audit record is committed) vs answers released at once:"
        )
        for d in durability:
            print(
                f"  c={d['concurrency']:<4} +p50 {d['added_p50_ms']:.3f} ms  +p99 {d['added_p99_ms']:.3f} ms  "
                f"req/s {d['rps_durable']} vs {d['rps_not_durable']} (x{d['rps_ratio']})"
            )
    if client_results:
        print(f"\nupstream client alone (concurrency {args.client_concurrency}):")
        for r in client_results:
            print(
                f"  {r['client']:<8} {r['rps']:>9.0f} req/s  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms"
                f"  x aiohttp {r['rps_vs_aiohttp']}"
            )
    result = {
        "benchmark": "gateway_bench",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            "duration_s": args.duration,
            "concurrency": levels,
            "targets": names,
            "nginx_workers": args.nginx_workers,
        },
        "notes": notes,
        "not_measured": failed,
        "runs": [asdict(r) | {"valid": r.valid} for r in runs],
        "ratios": rows,
        "durability_cost": durability,
        "upstream_clients": client_results,
    }
    if profile_text:
        print("\nwhere the gateway's time goes (cProfile, by own time):")
        print(profile_text)
        result["profile_top"] = profile_text
    out = args.out or RESULTS / f"gateway-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nJSON: {out}")
    return 0 if runs and not failed and all(r.valid for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
