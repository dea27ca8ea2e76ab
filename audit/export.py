"""Exports that verify on their own: records, the signed checkpoint and an inclusion proof each.

Three formats carry the same content:

- ``jsonl``: a header line, a checkpoint line, an optional report line, then one
  line per record (``seq``, ``body`` = the exact signed bytes as text, ``proof``
  = hex node hashes, and a readable ``view``).
- ``csv``: the same as rows with a ``kind`` column (header, checkpoint, report,
  record), readable columns first.
- ``html``: a printable report; the whole export is embedded as JSON in a
  ``<script type="application/json">`` block, so ``audit verify --export``
  checks the HTML file itself.

Decrypted personal data (Art. 15 access exports only) sits beside the signed
bytes: the ciphertext is what is signed, and AES-GCM authenticates the plaintext.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from audit import checkpoint as cpmod
from audit.errors import StoreError, VerificationError
from audit.proof import consistency_proof, inclusion_proof
from audit.record import parse_body, utc_now
from audit.store import Query, Store
from audit.tree import CompactRange, MemoryTree

FORMAT_VERSION = 1


@dataclass
class Export:
    header: dict[str, Any]
    note: str | None
    records: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None


def collect(store: Store, query: Query, *, with_records: bool = True, prove_from: int | None = None) -> Export:
    """Records matching ``query`` up to the latest checkpoint, each with its inclusion proof.

    ``prove_from`` (the size of an earlier stored checkpoint, e.g. one an auditor already holds) adds
    that checkpoint and a consistency proof from it to the export's checkpoint.
    """
    cps = store.checkpoints()
    origin = store.origin()
    header: dict[str, Any] = {"kind": "audit-export", "version": FORMAT_VERSION, "origin": origin,
                              "created": utc_now(),
                              "query": {k: v for k, v in vars(query).items() if v is not None}}
    if not cps:
        return Export(header, None)
    size, note = cps[-1]
    cp, _, _ = cpmod.parse(note)
    header["checkpoint_size"] = size
    exp = Export(header, note)
    if not with_records:
        return exp
    rows = [r for r in store.rows(query=query) if r.seq < size]
    header["unsigned_excluded"] = max(0, store.head().size - size)
    if not rows and prove_from is None:
        return exp
    pruned = store.pruned()
    base = CompactRange.from_bytes(pruned.size, pruned.frontier) if pruned else CompactRange()
    tree = MemoryTree(store.leaf_hashes(base.size, size), base)
    if tree.size != size or tree.root() != cp.root:
        raise VerificationError("the store does not match its latest checkpoint; run 'audit verify' to locate the damage")
    if prove_from is not None:
        old = dict(cps).get(prove_from)
        if old is None:
            raise StoreError(f"no stored checkpoint at size {prove_from}; sizes: {[n for n, _ in cps][-10:]}")
        header["consistency"] = {"note": old, "proof": [h.hex() for h in consistency_proof(prove_from, size, tree)]}
    for r in rows:
        exp.records.append({"kind": "record", "seq": r.seq, "body": r.body.decode(),
                            "proof": [h.hex() for h in inclusion_proof(r.seq, size, tree)],
                            "view": parse_body(r.body)})
    return exp


# -- writing ----------------------------------------------------------------------------------
def _lines(exp: Export) -> list[dict[str, Any]]:
    out = [exp.header]
    if exp.note is not None:
        out.append({"kind": "checkpoint", "note": exp.note})
    if exp.report is not None:
        out.append({"kind": "report", "report": exp.report})
    out.extend(exp.records)
    return out


def to_jsonl(exp: Export) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in _lines(exp))


CSV_COLUMNS = ["kind", "seq", "time", "type", "actor", "tenant", "payload", "personal", "body", "proof"]


def to_csv(exp: Export) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    w.writerow(["header", "", "", "", "", "", "", "", json.dumps(exp.header), ""])
    if exp.note is not None:
        w.writerow(["checkpoint", "", "", "", "", "", "", "", exp.note, ""])
    if exp.report is not None:
        w.writerow(["report", "", "", "", "", "", "", "", json.dumps(exp.report), ""])
    for r in exp.records:
        v = r["view"]
        w.writerow(["record", r["seq"], v.get("time", ""), v.get("type", ""), v.get("actor", ""),
                    v.get("tenant", ""), json.dumps(v.get("payload"), sort_keys=True),
                    json.dumps(r["personal"]) if r.get("personal") is not None else "",
                    r["body"], " ".join(r["proof"])])
    return buf.getvalue()


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#111}h1{font-size:1.4em}
h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #999}table{border-collapse:collapse;width:100%;
font-size:.85em}td,th{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eee}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap;font-size:.8em}
.ok{color:#064}@media print{body{margin:0}}"""


def _html_value(v: Any) -> str:
    if isinstance(v, dict):
        if not v:
            return "<em>none</em>"
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{_html_value(x)}</td></tr>" for k, x in v.items())
        return f"<table>{rows}</table>"
    if isinstance(v, list):
        if not v:
            return "<em>none</em>"
        if all(isinstance(x, dict) for x in v):
            keys = list(dict.fromkeys(k for x in v for k in x))
            head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
            body = "".join("<tr>" + "".join(f"<td>{_html_value(x.get(k, ''))}</td>" for k in keys) + "</tr>"
                           for x in v)
            return f"<table><tr>{head}</tr>{body}</table>"
        return "<ul>" + "".join(f"<li>{_html_value(x)}</li>" for x in v) + "</ul>"
    return html.escape(str(v))


def to_html(exp: Export, title: str) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>Log <code>{html.escape(exp.header['origin'])}</code>, exported {html.escape(exp.header['created'])}."
             " Every record below carries a Merkle inclusion proof against the signed checkpoint; "
             "check this file with <code>audit verify --export FILE --public-key KEY.pem</code>.</p>"]
    if exp.report is not None:
        for section, value in exp.report.items():
            parts.append(f"<h2>{html.escape(section.replace('_', ' ').capitalize())}</h2>{_html_value(value)}")
    if exp.records:
        parts.append(f"<h2>Records ({len(exp.records)})</h2><table><tr><th>seq</th><th>time</th><th>type</th>"
                     "<th>tenant</th><th>payload</th><th>personal data</th></tr>")
        for r in exp.records:
            v = r["view"]
            parts.append(f"<tr><td>{r['seq']}</td><td>{html.escape(v.get('time', ''))}</td>"
                         f"<td>{html.escape(v.get('type', ''))}</td><td>{html.escape(str(v.get('tenant') or ''))}</td>"
                         f"<td>{_html_value(v.get('payload'))}</td><td>{_html_value(r.get('personal') or '')}</td></tr>")
        parts.append("</table>")
    if exp.note is not None:
        parts.append(f"<h2>Signed checkpoint</h2><pre>{html.escape(exp.note)}</pre>")
    blob = json.dumps({"lines": _lines(exp)}, ensure_ascii=False).replace("<", "\\u003c")
    parts.append(f"<script type='application/json' id='audit-export'>{blob}</script></body></html>\n")
    return "".join(parts)


FORMATS = {"jsonl": "jsonl", "csv": "csv", "html": "html"}


def write(exp: Export, fmt: str, path: Path | None, title: str) -> bytes:
    if fmt == "jsonl":
        data = to_jsonl(exp)
    elif fmt == "csv":
        data = to_csv(exp).encode()
    elif fmt == "html":
        data = to_html(exp, title).encode()
    else:
        raise ValueError(f"unknown export format {fmt!r}: use jsonl, csv or html")
    if path is not None:
        path.write_bytes(data)
    return data


# -- reading -------------------------------------------------------------------------------------
def _split(lines: list[dict[str, Any]]) -> tuple[dict[str, Any], str | None, list[dict[str, Any]]]:
    header: dict[str, Any] = {}
    note = None
    records = []
    for line in lines:
        kind = line.get("kind")
        if kind == "audit-export":
            header = line
        elif kind == "checkpoint":
            note = line.get("note")
        elif kind == "record":
            records.append(line)
    if not header:
        raise StoreError("not an audit export: no header")
    return header, note, records


def read_export(path: Path) -> tuple[dict[str, Any], str | None, list[dict[str, Any]]]:
    """(header, checkpoint note, records) from a jsonl, csv or html export."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"cannot read export {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise StoreError(f"export {path} is not UTF-8 text") from None
    start = text.lstrip()[:1]
    try:
        if start == "{":
            return _split([json.loads(line) for line in text.splitlines() if line.strip()])
        if start == "<":
            marker = "id='audit-export'>"
            i = text.find(marker)
            j = text.find("</script>", i)
            if i < 0 or j < 0:
                raise StoreError(f"HTML file {path} holds no embedded audit export")
            return _split(json.loads(text[i + len(marker) : j])["lines"])
        rows = list(csv.DictReader(io.StringIO(text)))
        lines: list[dict[str, Any]] = []
        for row in rows:
            kind = row.get("kind")
            if kind == "header":
                lines.append(json.loads(row["body"]))
            elif kind == "checkpoint":
                lines.append({"kind": "checkpoint", "note": row["body"]})
            elif kind == "record":
                view = {k: row[k] for k in ("time", "type", "actor", "tenant")}
                view["payload"] = json.loads(row["payload"]) if row["payload"] else None
                lines.append({"kind": "record", "seq": int(row["seq"]), "body": row["body"],
                              "proof": row["proof"].split() if row["proof"] else [], "view": view})
        return _split(lines)
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"export {path} is malformed: {type(exc).__name__}") from None
