"""The verification report: canonical JSON, an Ed25519 signature, and a text rendering.

The signature covers the RFC 8785 canonical JSON of the whole report except the
``signature`` field, so anyone with the published public key (in the key file's public
record) can check that a report was produced with the key and not edited afterwards.
Checking always takes the published record: a report's own embedded public key proves
nothing (anyone can re-sign an edited report with a key of their own).
"""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path
from typing import Any

import rfc8785

from watermark.errors import ReportError
from watermark.keys import WatermarkKey


def canonical(report: dict[str, Any]) -> bytes:
    body = {k: v for k, v in report.items() if k != "signature"}
    return rfc8785.dumps(body)


def sign(report: dict[str, Any], key: WatermarkKey) -> dict[str, Any]:
    signed = copy.deepcopy(report)
    signed["signature"] = {
        "algorithm": "Ed25519",
        "public_key": key.public_key_hex(),
        "canonicalization": "RFC8785",
        "value": key.signing_key().sign(canonical(report)).hex(),
    }
    return signed


PUBLIC_FIELDS = ("key_id", "commitment", "signing_public_key")


def public_record(obj: Any) -> dict[str, str]:
    """Validate a public record (what ``keygen`` printed): three hex fields that fit together.

    Accepts the record itself or a key file document (its public fields are the same).
    The key id is derived from the commitment, so a record whose two disagree was edited.
    """
    from watermark.keys import _key_id

    if not isinstance(obj, dict) or any(not isinstance(obj.get(f), str) for f in PUBLIC_FIELDS):
        raise ReportError(
            f"not a public record: it needs the fields {', '.join(PUBLIC_FIELDS)} "
            "(the JSON that 'watermark keygen' printed)"
        )
    rec = {f: obj[f].strip().lower() for f in PUBLIC_FIELDS}
    try:
        ok = (
            _key_id(rec["commitment"]) == rec["key_id"]
            and len(bytes.fromhex(rec["signing_public_key"])) == 32
        )
    except ValueError:
        ok = False
    if not ok:
        raise ReportError(
            "the public record is inconsistent: its key id does not derive from its commitment, "
            "or the signing key is not a 32-byte Ed25519 key"
        )
    return rec


def _signature_valid(report: dict[str, Any], public_key_hex: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    sig = report.get("signature") or {}
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(
            bytes.fromhex(sig["value"]), canonical(report)
        )
    except (InvalidSignature, KeyError, ValueError, TypeError):
        return False
    return True


def verify_report(report: Any, record: dict[str, Any]) -> dict[str, str]:
    """Check that ``report`` was signed by the key of the published ``record`` and not edited since.

    Raises ReportError naming the first check that fails: no signature, another key id or
    commitment, a signature by another key (even a valid one), or a modified body.
    There is deliberately no form without the record: the public key inside a report
    proves nothing, since anyone can re-sign an edited report with a key of their own.
    """
    rec = public_record(record)
    if not isinstance(report, dict) or not isinstance(report.get("signature"), dict):
        raise ReportError("the report is not signed (no signature field)")
    sig = report["signature"]
    if sig.get("algorithm") != "Ed25519" or sig.get("canonicalization") != "RFC8785":
        raise ReportError(f"unsupported signature {sig.get('algorithm')!r}/{sig.get('canonicalization')!r}")
    key = report.get("key") if isinstance(report.get("key"), dict) else {}
    if key.get("key_id") != rec["key_id"] or key.get("commitment") != rec["commitment"]:
        raise ReportError(
            f"the report is for key id {key.get('key_id')!r}, not the published key id "
            f"{rec['key_id']} (or its commitment differs)"
        )
    if str(sig.get("public_key", "")).lower() != rec["signing_public_key"]:
        raise ReportError(
            f"SIGNED BY ANOTHER KEY: the report carries signing key {str(sig.get('public_key'))[:16]}..., "
            f"the published record's is {rec['signing_public_key'][:16]}..."
        )
    if not _signature_valid(report, rec["signing_public_key"]):
        raise ReportError("SIGNATURE INVALID: the report was modified after it was signed")
    return rec


def check_signature(report: dict[str, Any], public: str | dict[str, Any]) -> bool:
    """True if the report is unmodified and signed by ``public`` (a public record, or a signing key in hex).

    The published key is required: a report's own embedded key is never trusted.
    """
    if isinstance(public, dict):
        try:
            verify_report(report, public)
        except ReportError:
            return False
        return True
    if not public:
        raise ValueError("check_signature needs the published signing public key")
    sig = report.get("signature") or {}
    return str(sig.get("public_key", "")).lower() == public.lower() and _signature_valid(report, public)


def check_files(report: dict[str, Any], directory: str | Path) -> list[str]:
    """Compare the suspect directory's files with the hashes in the report; the list of differences."""
    from watermark.modeldir import sha256_file

    directory = Path(directory)
    if not directory.is_dir():
        return [f"{directory} is not a directory"]
    want: dict[str, str] = report.get("suspect", {}).get("file_sha256", {})
    have = {str(p.relative_to(directory)): p for p in sorted(directory.rglob("*")) if p.is_file()}
    problems = [f"missing: {n}" for n in sorted(set(want) - set(have))]
    problems += [f"not in the report: {n}" for n in sorted(set(have) - set(want))]
    problems += [f"changed: {n}" for n in sorted(set(want) & set(have)) if sha256_file(have[n]) != want[n]]
    return problems


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return "< 1e-300" if p == 0.0 else f"{p:.3g}"


TEST_PLAIN = {
    "weight_watermark": "whether keyed bits hidden in the averaged MLP weights are present",
    "functional_watermark": "whether the model's outputs on secret probe inputs carry keyed bits "
    "(unchanged by any rearrangement of the weights that keeps the outputs)",
    "trigger_fingerprint": "whether the model gives our secret answers to our secret prompts",
    "text_radioactivity": "whether text the model writes carries our text watermark",
    "weight_similarity": "how closely its weights correlate with our original model's",
}


def plain_summary(report: dict[str, Any]) -> str:
    """One paragraph a non-specialist can read aloud: what was tested, what it means, what it does not prove."""
    ran = [t for t in report["tests"] if t["applicable"] and not t.get("error")]
    failed = [t for t in report["tests"] if t.get("error")]
    v, alpha = report["verdict"], report["alpha"]
    what = "; ".join(TEST_PLAIN.get(t["name"], t["name"]) for t in ran) or "nothing (no test could run)"
    text = (
        f"In plain words: we examined the {report['suspect']['n_files']} files of the suspect model, "
        f"identified by the fingerprint {report['suspect']['files_digest'][:16]}..., and tested {what}. "
    )
    if failed:
        text += (
            f"{len(failed)} test(s) could not run and were counted as finding nothing "
            f"({', '.join(t['name'] for t in failed)}). "
        )
    p = v["combined_p"]
    if v["evidence"]:
        text += (
            f"The combined p-value of {_fmt_p(p)} is, after allowing for running {v['n_applicable']} tests, "
            f"the chance that a model made without our secret key would match this well; it is below the "
            f"threshold of {alpha:g} fixed in advance, so we report evidence that this model was derived "
            f"from a model marked with our key. "
        )
    else:
        text += (
            f"The combined p-value of {_fmt_p(p)} is not below the threshold of {alpha:g} fixed in advance, "
            f"so these tests found no evidence that this model was derived from ours. "
        )
    text += (
        "This does not prove who copied the model, how, or when; it does not show that the files are "
        "identical to ours, and finding nothing does not prove the model is unrelated, because a mark can "
        "be weakened by retraining. The result holds only if the key was fixed before the suspect was "
        "seen, which anyone can check once we reveal the key against the commitment we published."
    )
    return text


def render_text(report: dict[str, Any]) -> str:
    lines = [
        f"watermark verify: {report['suspect']['path']}",
        f"  key id {report['key']['key_id']}  commitment {report['key']['commitment']}",
        f"  model type {report['suspect']['model_type']}, {report['suspect']['n_files']} files, "
        f"alpha {report['alpha']:g} (Holm-Bonferroni over the applicable tests)",
    ]
    health = report.get("weights_health") or {}
    if health.get("nonfinite_tensors"):
        bad = health["nonfinite_tensors"]
        lines.append(
            f"  WARNING: {len(bad)} tensor(s) hold NaN or inf values: "
            + ", ".join(f"{b['name']} ({b['nonfinite']})" for b in bad[:5])
            + (" ..." if len(bad) > 5 else "")
        )
    lines += ["", f"  {'test':<22} {'statistic':<34} {'p-value':>10} {'Holm p':>10}  result"]
    for t in report["tests"]:
        if not t["applicable"]:
            lines.append(f"  {t['name']:<22} not applicable: {t['detail']}")
            continue
        if t.get("error"):
            lines.append(
                f"  {t['name']:<22} {'could not run: ' + t['error']:<34.60} {_fmt_p(t['p_value']):>10} "
                f"{_fmt_p(t['holm_p']):>10}  no evidence (counted as p = 1)"
            )
            continue
        lines.append(
            f"  {t['name']:<22} {t['statistic']:<34} {_fmt_p(t['p_value']):>10} {_fmt_p(t['holm_p']):>10}  "
            f"{'EVIDENCE' if t['rejected'] else 'no evidence'}"
        )
    v = report["verdict"]
    lines += [
        "",
        f"  verdict: {'EVIDENCE that the suspect derives from the key holder' if v['evidence'] else 'no evidence'}"
        f" (combined p = {_fmt_p(v['combined_p'])}, alpha {report['alpha']:g})",
        f"  evidence hash (files): {report['suspect']['files_digest']}",
        f"  signed Ed25519 by {report['signature']['public_key'][:16]}...  in {report['elapsed_s']:.1f} s",
        "",
    ]
    lines += ["  " + line for line in textwrap.wrap(plain_summary(report), 96)]
    return "\n".join(lines)


_CSS = """body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1b1f24;line-height:1.45}h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;padding:.35rem .5rem;
border-bottom:1px solid #d0d7de;vertical-align:top}th{background:#f6f8fa}.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{padding:.8rem 1rem;border-radius:6px;font-weight:600}.yes{background:#fff1e5;border:1px solid #d4a72c}
.no{background:#eef6ee;border:1px solid #8bbf8b}.warn{color:#9a3412}code{font-size:.85rem;word-break:break-all}
.plain{background:#f6f8fa;padding:.8rem 1rem;border-left:4px solid #57606a}"""


def render_html(report: dict[str, Any]) -> str:
    """The report as one standalone HTML page (no scripts, no external resources)."""
    from html import escape as e

    v = report["verdict"]
    rows = []
    for t in report["tests"]:
        if not t["applicable"]:
            rows.append(
                f"<tr><td>{e(t['name'])}</td><td colspan=4>not applicable: {e(t['detail'])}</td></tr>"
            )
            continue
        result = (
            "could not run (counted as p = 1)"
            if t.get("error")
            else ("EVIDENCE" if t["rejected"] else "no evidence")
        )
        stat = e(t["error"]) if t.get("error") else e(t["statistic"])
        rows.append(
            f"<tr><td>{e(t['name'])}<br><small>{e(TEST_PLAIN.get(t['name'], ''))}</small></td><td>{stat}</td>"
            f"<td class=num>{e(_fmt_p(t['p_value']))}</td><td class=num>{e(_fmt_p(t.get('holm_p')))}</td>"
            f"<td>{e(result)}</td></tr>"
        )
    health = report.get("weights_health") or {}
    warn = ""
    if health.get("nonfinite_tensors"):
        items = ", ".join(f"{b['name']} ({b['nonfinite']})" for b in health["nonfinite_tensors"][:10])
        warn = f"<p class=warn>Warning: tensors holding NaN or inf values: {e(items)}</p>"
    files = "".join(
        f"<tr><td><code>{e(n)}</code></td><td><code>{e(h)}</code></td></tr>"
        for n, h in report["suspect"]["file_sha256"].items()
    )
    sig = report["signature"]
    verdict = (
        "Evidence that the suspect derives from the key holder's model" if v["evidence"] else "No evidence"
    )
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Watermark verification report</title><style>{_CSS}</style></head>
<body><h1>Watermark verification report</h1>
<p>Suspect: <code>{e(report["suspect"]["path"])}</code> ({e(report["suspect"]["model_type"])},
{report["suspect"]["n_files"]} files)<br>Created {e(report["created"])} in {report["elapsed_s"]:.1f} s</p>
<p class="verdict {"yes" if v["evidence"] else "no"}">{verdict}: combined p = {e(_fmt_p(v["combined_p"]))}
(threshold {report["alpha"]:g}, Holm-Bonferroni over {v["n_applicable"]} tests)</p>
{warn}
<h2>Tests</h2>
<table><tr><th>test</th><th>statistic</th><th class=num>p-value</th><th class=num>Holm p</th><th>result</th></tr>
{"".join(rows)}</table>
<h2>What this means</h2><p class=plain>{e(plain_summary(report))}</p>
<h2>Key and signature</h2>
<table><tr><th>key id</th><td><code>{e(report["key"]["key_id"])}</code></td></tr>
<tr><th>commitment</th><td><code>{e(report["key"]["commitment"])}</code></td></tr>
<tr><th>signature ({e(sig["algorithm"])}, {e(sig["canonicalization"])})</th><td><code>{e(sig["value"])}</code></td></tr>
<tr><th>signing key</th><td><code>{e(sig["public_key"])}</code></td></tr></table>
<p>Check with <code>watermark check-report REPORT.json --public PUBLIC_RECORD.json</code>: the signing key must
be the one in the record published at key generation.</p>
<h2>Files examined (SHA-256)</h2>
<p>Digest over all files: <code>{e(report["suspect"]["files_digest"])}</code></p>
<table><tr><th>file</th><th>SHA-256</th></tr>{files}</table>
</body></html>
"""


PDF_ATTACHMENT = "watermark-report.json"


def render_pdf(report: dict[str, Any]) -> bytes:
    """The HTML report printed to PDF, with the signed JSON report attached (what check-report reads)."""
    from audit.pdf import attach, html_to_pdf

    data = (json.dumps(report, indent=2) + "\n").encode()
    pdf = html_to_pdf(render_html(report))
    return attach(
        pdf,
        {PDF_ATTACHMENT: data},
        title="Watermark verification report",
        subject=f"signed watermark report, key {report.get('key', {}).get('key_id', '?')}",
    )


def report_from_pdf(pdf: bytes) -> Any:
    """The signed JSON report attached to a PDF written by ``render_pdf``."""
    from audit.pdf import attachment

    data, _text = attachment(pdf, PDF_ATTACHMENT)
    return json.loads(data)
