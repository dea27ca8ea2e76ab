"""The demo: a real small model behind the gateway on loopback, one request with personal data.

Shows the request, the answer, what the model server actually received, and
the audit record. Runs on embedded defaults: no external services, no GPU.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-out"
PY = sys.executable

PROMPT = (
    "Hi, I am John Smith (john.smith@example.com, +1 415-555-0132). "
    "我的手机号是13812345678。Please write me a one-line greeting."
)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(url: str, what: str, proc: subprocess.Popen, timeout: float) -> None:
    t0 = time.monotonic()
    print(f"    waiting for {what} ", end="", flush=True)
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early (code {proc.returncode}); see {OUT}/*.log")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                print(f" up ({time.monotonic() - t0:.0f} s)")
                return
        except httpx.HTTPError:
            pass
        print(".", end="", flush=True)
        time.sleep(1)
    raise SystemExit(f"{what} did not come up in {timeout:.0f} s; see {OUT}/*.log")


def section(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)))


def main() -> int:
    OUT.mkdir(exist_ok=True)
    env = {**os.environ, "CG_HOME": str(OUT / "home"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    up_port, gw_port = free_port(), free_port()
    audit_db = OUT / "audit.db"
    config = {
        "server": {"port": gw_port},
        "upstreams": [
            {"name": "dev-smollm2", "url": f"http://127.0.0.1:{up_port}", "labels": {"region": "eu"}}
        ],
        "plugins": ["auth", "ratelimit", "pii", "policy", "audit"],
        "audit": {"store": f"sqlite:///{audit_db}"},
        # Reversible pseudonymization: the model sees stand-ins, the user gets the real values back.
        "pii": {"default_operator": "pseudonymize"},
        # Who answers for the processing: read by the GDPR reports (audit export --config), checked at start.
        "compliance": {
            "controller": {
                "name": "Demo Company (replace in your config)",
                "country": "DE",
                "email": "privacy@example.com",
            },
            "dpo": {"name": "Data Protection Officer", "email": "dpo@example.com"},
            "retention": {"audit_records": "6 years", "connection_data": "90 days"},
            "recipients": [
                {"upstream": "dev-smollm2", "name": "Demo Company, on-premises model server", "country": "DE"}
            ],
        },
    }
    cfg_path = OUT / "gateway.yaml"
    cfg_path.write_text(json.dumps(config, indent=2))  # JSON is valid YAML
    procs: list[subprocess.Popen] = []
    try:
        section("1. starting the dev model server (SmolLM2-135M-Instruct on CPU)")
        print("    first run converts the GGUF weights once (~30-60 s); later runs take seconds")
        up = subprocess.Popen(
            [PY, "-m", "gateway", "dev-upstream", "--port", str(up_port), "--model", "smollm2"],
            env=env,
            stdout=open(OUT / "dev-upstream.log", "w"),
            stderr=subprocess.STDOUT,
        )
        procs.append(up)
        wait_for(f"http://127.0.0.1:{up_port}/health", "dev-upstream", up, 600)

        section("2. starting the gateway (auth, rate limit, PII, policy, audit)")
        gw = subprocess.Popen(
            [PY, "-m", "gateway", "serve", "--config", str(cfg_path)],
            env=env,
            stdout=open(OUT / "gateway.log", "w"),
            stderr=subprocess.STDOUT,
        )
        procs.append(gw)
        wait_for(f"http://127.0.0.1:{gw_port}/readyz", "gateway", gw, 120)

        token = subprocess.run(
            [PY, "-m", "gateway", "token", "--sub", "alice", "--tenant", "acme", "--role", "user"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        body = {
            "model": "SmolLM2-135M-Instruct",
            "max_tokens": 48,
            "temperature": 0.0,
            "messages": [{"role": "user", "content": PROMPT}],
        }
        section("3. the client sends (with a JWT from `gateway token`)")
        print(json.dumps(body, ensure_ascii=False, indent=2))
        r = httpx.post(
            f"http://127.0.0.1:{gw_port}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=300,
        )
        section(f"4. the client gets back (HTTP {r.status_code})")
        try:
            answer = r.json()
            print(
                answer["choices"][0]["message"]["content"]
                if r.status_code == 200
                else json.dumps(answer, indent=2)
            )
        except (ValueError, KeyError):
            print(r.text)
        print(f"\n    server-timing: {r.headers.get('server-timing')}")

        section("5. what the model server actually received")
        received = httpx.get(f"http://127.0.0.1:{up_port}/debug/requests", timeout=10).json()
        last = received[-1]
        print(
            json.dumps(
                last["json"]["messages"] if last.get("json") else last["body"], ensure_ascii=False, indent=2
            )
        )

        section("6. the audit record (tamper-evident log, verified)")
        time.sleep(0.5)
        exported = subprocess.run(
            [PY, "-m", "audit", "export", "--store", f"sqlite:///{audit_db}", "--format", "jsonl"],
            env=env,
            capture_output=True,
            text=True,
        )
        lines = [ln for ln in exported.stdout.splitlines() if '"gateway.request"' in ln]
        if lines:
            rec = json.loads(lines[-1])
            print(
                f"    record #{rec['seq']} (its signed bytes and Merkle inclusion proof are in the export):"
            )
            print(json.dumps(rec.get("view", rec), indent=2, ensure_ascii=False))
        else:
            print(exported.stdout or exported.stderr)
        verify = subprocess.run(
            [PY, "-m", "audit", "verify", "--store", f"sqlite:///{audit_db}"],
            env=env,
            capture_output=True,
            text=True,
        )
        print(verify.stdout.strip() or verify.stderr.strip())

        section("7. the GDPR reports (Art. 15 reply for alice, Art. 30 record, activity), HTML and PDF")
        httpx.post(
            f"http://127.0.0.1:{gw_port}/v1/chat/completions",
            json=body,
            timeout=30,
            headers={"Authorization": "Bearer not-a-token"},
        )  # an authentication failure, for the report
        time.sleep(0.5)
        (OUT / "reports").mkdir(exist_ok=True)
        for report, extra in (("access", ["--subject", "alice"]), ("art30", []), ("activity", [])):
            for fmt in ("html", "pdf"):
                target = OUT / "reports" / f"{report}.{fmt}"
                res = subprocess.run(
                    [
                        PY,
                        "-m",
                        "audit",
                        "export",
                        "--store",
                        f"sqlite:///{audit_db}",
                        "--report",
                        report,
                        *extra,
                        "--config",
                        str(cfg_path),
                        "--format",
                        fmt,
                        "--out",
                        str(target),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                print(
                    f"    {target.relative_to(ROOT)}"
                    if res.returncode == 0
                    else f"    {report}.{fmt}: {(res.stderr.strip().splitlines() or ['failed'])[-1]}"
                )
        ok = r.status_code == 200
        print("\nDemo " + ("succeeded." if ok else "FAILED.") + f" Logs and config in {OUT}/")
        return 0 if ok else 1
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    raise SystemExit(main())
