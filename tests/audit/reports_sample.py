"""A fixed sample log and config for the report tests and the pictures in docs/audit-reports/.

Everything that would vary between runs is pinned: the clock, the keys (derived
from fixed seeds), the log's origin. The same sample always renders the same
pages, so screenshots can be compared with the golden PNGs.

Regenerate the pictures (after a deliberate change of the layout):

    .venv/bin/python -m tests.audit.reports_sample docs/audit-reports
"""

from __future__ import annotations

import base64
import sqlite3
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "audit-reports"
REPORTS = ("access", "art30", "activity")

CONFIG = """\
upstreams:
  - name: gpu-eu
    url: http://10.0.0.5:8000
    labels: {region: eu-west-1}
  - name: gpu-us
    url: https://us.inference.example.com
    labels: {region: us-east-1}
  - name: default
    url: http://10.0.0.9:8000
compliance:
  controller:
    name: Example Analytics GmbH
    address: Friedrichstrasse 10, 10117 Berlin
    email: privacy@example.com
    country: DE
  dpo:
    name: Dr. Jana Weber, Data Protection Officer
    email: dpo@example.com
  supervisory_authority:
    name: Berliner Beauftragte fuer Datenschutz und Informationsfreiheit
    url: https://www.datenschutz-berlin.de
  retention:
    audit_records: 6 years
    connection_data: 90 days
    justification: commercial and tax records (HGB s. 257) and security investigations
  recipients:
    - upstream: gpu-eu
      name: Example GPU Cloud B.V.
      country: NL
      contract: DPA-2025-014 (legal drive)
    - upstream: gpu-us
      name: Example Inference Inc.
      country: US
      safeguard: Standard contractual clauses (Commission Implementing Decision (EU) 2021/914), module 3
"""

ORIGIN = "compliance-gateway/audit/sample"


def _event(
    i: int,
    *,
    status: int = 200,
    upstream: str | None = "gpu-eu",
    code: str | None = None,
    reasons: list[str] | None = None,
    pii: dict[str, int] | None = None,
    model: str = "qwen2.5-7b-instruct",
    roles: list[str] | None = None,
) -> dict[str, Any]:
    p: dict[str, Any] = {
        "request_id": f"req-{i:04d}",
        "route": "chat",
        "model": model,
        "upstream": upstream,
        "stream": False,
        "status": status,
        "error_code": code,
        "decision": "allow" if status < 400 else "deny",
        "roles": roles if roles is not None else ["user"],
        "prompt_tokens": 120 + 7 * i,
        "completion_tokens": 40 if status == 200 else 0,
        "timings_ms": {"auth": 0.21, "ratelimit": 0.05, "pii": 3.4, "policy": 0.8, "upstream": 180.5},
        "pii": pii or {},
        "host": "proxy",
    }
    if reasons is not None:
        p["deny_reasons"] = reasons
    return p


# (day, tenant, subject, event) - subject None for requests without a valid token.
def events() -> list[tuple[int, str | None, str | None, dict[str, Any]]]:
    ev: list[tuple[int, str | None, str | None, dict[str, Any]]] = [
        (1, "acme", "alice", _event(1, pii={"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1})),
        (1, "acme", "alice", _event(2)),
        (1, "acme", "bob", _event(3, upstream="gpu-us", pii={"PERSON": 2})),
        (1, None, None, _event(4, status=401, upstream=None, code="token_expired", roles=[])),
        (1, "globex", "carol", _event(5, upstream="default")),
        (
            2,
            "acme",
            "alice",
            _event(
                6,
                status=403,
                code="policy_denied",
                upstream="gpu-us",
                reasons=["none of the roles [user] may use model llama-3.1-70b-instruct"],
                model="llama-3.1-70b-instruct",
            ),
        ),
        (2, "acme", "alice", _event(7, upstream="gpu-us", pii={"CN_MOBILE": 1})),
        (2, "globex", "carol", _event(8, status=429, code="rate_limit_exceeded", upstream="default")),
        (2, None, None, _event(9, status=401, upstream=None, code="invalid_signature", roles=[])),
        (2, "globex", "dave", _event(10, status=502, code="bad_gateway", upstream="default")),
        (
            3,
            "acme",
            "alice",
            _event(
                11,
                status=403,
                code="policy_denied",
                upstream="gpu-eu",
                reasons=["personal data of type US_SSN may not be sent to this model"],
                pii={"US_SSN": 1},
            ),
        ),
        (3, "acme", "alice", _event(12, pii={"EMAIL_ADDRESS": 2})),
        (3, "globex", "carol", _event(13, upstream="default", pii={"IBAN_CODE": 1})),
    ]
    return ev


def _fixed_keys(d: Path) -> dict[str, str]:
    d.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    (d / "signing-key.pem").write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    (d / "signing-key.pub.pem").write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    (d / "subject-key").write_bytes(base64.b64encode(bytes(range(100, 132))) + b"\n")
    return {
        "signing_key_file": str(d / "signing-key.pem"),
        "subject_key_file": str(d / "subject-key"),
        "public_key": str(d / "signing-key.pub.pem"),
    }


def build(workdir: Path) -> tuple[str, dict[str, str], Path]:
    """(store url, key files, config path) of the sample log, created in ``workdir``."""
    import audit.appender
    from audit.log import open_log
    from audit.store import open_store

    keys = _fixed_keys(workdir / "keys")
    db = workdir / "audit.db"
    url = f"sqlite:///{db}"
    cfg = workdir / "gateway.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    writer = {k: v for k, v in keys.items() if k != "public_key"}
    day = {"n": 1}
    tick = {"n": 0}
    saved = audit.appender.utc_now

    def now() -> str:
        tick["n"] += 1
        return f"2026-03-0{day['n']}T09:{tick['n'] // 60:02d}:{tick['n'] % 60:02d}.000000Z"

    store = open_store(url)
    store.open()  # creates the schema and a random origin: pin it before anything is signed
    store.close()
    with sqlite3.connect(db) as c:
        c.execute("UPDATE audit_meta SET value = ? WHERE key = 'origin'", (ORIGIN,))
    audit.appender.utc_now = now
    try:
        with open_log(url, checkpoint_every=1000, **writer) as log:
            for d, tenant, subject, payload in events():
                day["n"] = d
                tick["n"] += 7
                log.append(
                    "gateway.request",
                    payload,
                    tenant=tenant,
                    subject=subject,
                    personal={"client_ip": f"203.0.113.{10 + int(payload['request_id'][-2:])}"}
                    if subject
                    else None,
                )
    finally:
        audit.appender.utc_now = saved
    return url, keys, cfg


def export_args(url: str, keys: dict[str, str], cfg: Path, report: str) -> list[str]:
    args = [
        "export",
        "--store",
        url,
        "--signing-key-file",
        keys["signing_key_file"],
        "--subject-key-file",
        keys["subject_key_file"],
        "--report",
        report,
        "--config",
        str(cfg),
    ]
    return args + (["--subject", "alice"] if report == "access" else [])


def render_all(workdir: Path, formats: tuple[str, ...] = ("html",)) -> dict[tuple[str, str], Path]:
    """Build the sample log and export each report; returns {(report, format): file}."""
    import audit.export
    from audit.cli import main as cli

    url, keys, cfg = build(workdir)
    out: dict[tuple[str, str], Path] = {}
    saved = audit.export.utc_now
    audit.export.utc_now = lambda: "2026-03-05T10:00:00.000000Z"
    try:
        for report in REPORTS:
            for fmt in formats:
                path = workdir / f"{report}.{fmt}"
                rc = cli(
                    [
                        *export_args(url, keys, cfg, report),
                        "--format",
                        fmt,
                        "--out",
                        str(path),
                        "--no-checkpoint",
                    ]
                )
                assert rc == 0, f"export {report} {fmt} failed"
                out[(report, fmt)] = path
    finally:
        audit.export.utc_now = saved
    return out


def main(argv: list[str]) -> int:
    import tempfile

    from audit.pdf import screenshot

    target = Path(argv[0]) if argv else DOCS
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        files = render_all(Path(tmp), ("html", "pdf"))
        for (report, fmt), path in files.items():
            (target / f"{report}.{fmt}").write_bytes(path.read_bytes())
            if fmt == "html":
                (target / f"{report}.png").write_bytes(screenshot(path.read_text(encoding="utf-8")))
                print(f"wrote {target / report}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
