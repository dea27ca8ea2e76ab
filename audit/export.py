"""Exports that verify on their own: records, the signed checkpoint and an inclusion proof each.

Three formats carry the same content:

- ``jsonl``: a header line, a checkpoint line, an optional report line, then one
  line per record (``seq``, ``body`` = the exact signed bytes as text, ``proof``
  = hex node hashes, and a readable ``view``).
- ``csv``: the same as rows with a ``kind`` column (header, checkpoint, report,
  record), readable columns first.
- ``html``: a printable report (``audit/templates``); the whole export is
  embedded as JSON in a ``<script type="application/json">`` block, so
  ``audit verify --export`` checks the HTML file itself.
- ``pdf``: the HTML printed by headless Chromium, with the same JSON attached
  to the PDF as ``audit-export.json`` (an embedded file, PDF 1.7 section 7.11.4);
  ``audit verify --export FILE.pdf`` reads and checks that attachment.

Decrypted personal data (Art. 15 access exports only) sits beside the signed
bytes: the ciphertext is what is signed, and AES-GCM authenticates the plaintext.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from audit import checkpoint as cpmod
from audit.errors import StoreError, VerificationError
from audit.proof import consistency_proof, inclusion_proof
from audit.record import parse_body, utc_now
from audit.store import Query, Store
from audit.tree import CompactRange, MemoryTree

if TYPE_CHECKING:
    import jinja2

FORMAT_VERSION = 1


@dataclass
class Export:
    header: dict[str, Any]
    note: str | None
    records: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None


def collect(
    store: Store, query: Query, *, with_records: bool = True, prove_from: int | None = None
) -> Export:
    """Records matching ``query`` up to the latest checkpoint, each with its inclusion proof.

    ``prove_from`` (the size of an earlier stored checkpoint, e.g. one an auditor already holds) adds
    that checkpoint and a consistency proof from it to the export's checkpoint.
    """
    cps = store.checkpoints()
    origin = store.origin()
    header: dict[str, Any] = {
        "kind": "audit-export",
        "version": FORMAT_VERSION,
        "origin": origin,
        "created": utc_now(),
        "query": {k: v for k, v in vars(query).items() if v is not None},
    }
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
        raise VerificationError(
            "the store does not match its latest checkpoint; run 'audit verify' to locate the damage"
        )
    if prove_from is not None:
        old = dict(cps).get(prove_from)
        if old is None:
            raise StoreError(f"no stored checkpoint at size {prove_from}; sizes: {[n for n, _ in cps][-10:]}")
        header["consistency"] = {
            "note": old,
            "proof": [h.hex() for h in consistency_proof(prove_from, size, tree)],
        }
    for r in rows:
        exp.records.append(
            {
                "kind": "record",
                "seq": r.seq,
                "body": r.body.decode(),
                "proof": [h.hex() for h in inclusion_proof(r.seq, size, tree)],
                "view": parse_body(r.body),
            }
        )
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
        w.writerow(
            [
                "record",
                r["seq"],
                v.get("time", ""),
                v.get("type", ""),
                v.get("actor", ""),
                v.get("tenant", ""),
                json.dumps(v.get("payload"), sort_keys=True),
                json.dumps(r["personal"]) if r.get("personal") is not None else "",
                r["body"],
                " ".join(r["proof"]),
            ]
        )
    return buf.getvalue()


TEMPLATES = Path(__file__).with_name("templates")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d( |$)")


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    env.tests["number_like"] = lambda v: isinstance(v, str) and bool(_NUMBER.match(v))
    env.tests["date_like"] = lambda v: isinstance(v, str) and bool(_DATE.match(v))
    return env


def _plain_report(exp: Export, title: str) -> dict[str, Any]:
    """A records-only export, laid out like the reports (no Python values or raw keys shown)."""
    from audit.reports import _section, action_words, outcome_words, when

    rows = []
    for r in exp.records:
        v = r["view"]
        p = v.get("payload") or {}
        rows.append(
            [
                r["seq"],
                when(v.get("time")),
                v.get("type", ""),
                v.get("tenant") or "-",
                action_words(v),
                outcome_words(p) if v.get("type") == "gateway.request" else "-",
            ]
        )
    return {
        "title": title,
        "summary": [["Records", str(len(exp.records))]],
        "warnings": [],
        "sections": [
            _section(
                "records",
                "Records",
                columns=["Record", "Time", "Type", "Tenant", "What was done", "Outcome"],
                rows=rows,
            )
        ],
        "appendix": [],
    }


def to_html(exp: Export, title: str, *, filename: str = "FILE", pdf: bool = False) -> str:
    from audit.reports import when

    report = exp.report if exp.report is not None and "sections" in exp.report else _plain_report(exp, title)
    blob = json.dumps({"lines": _lines(exp)}, ensure_ascii=False).replace("<", "\\u003c")
    import markupsafe

    n = len(exp.records)
    html: str = (
        _environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            css=markupsafe.Markup((TEMPLATES / "report.css").read_text(encoding="utf-8")),
            created=when(exp.header.get("created")),
            origin=exp.header.get("origin", "-"),
            note=exp.note,
            covered=(
                f"this document carries {n} record{'' if n == 1 else 's'} with their proofs"
                if n
                else "this summary carries the checkpoint only"
            ),
            size=exp.header.get("checkpoint_size", 0),
            filename=filename,
            pdf=pdf,
            blob=markupsafe.Markup(blob),
        )
        + "\n"
    )
    return html


FORMATS = {"jsonl": "jsonl", "csv": "csv", "html": "html", "pdf": "pdf"}
ATTACHMENT = "audit-export.json"


def to_pdf(exp: Export, title: str, *, filename: str = "FILE") -> bytes:
    """Print the HTML with headless Chromium, then attach the export JSON (checkpoint, records, proofs)."""
    from audit.pdf import attach, html_to_pdf

    html_text = to_html(exp, title, filename=filename, pdf=True)
    blob = json.dumps({"lines": _lines(exp)}, ensure_ascii=False).encode()
    return attach(
        html_to_pdf(html_text),
        {ATTACHMENT: blob},
        title=report_title(exp, title),
        subject=f"audit export of log {exp.header.get('origin', '-')}",
    )


def report_title(exp: Export, default: str) -> str:
    return str(exp.report.get("title")) if exp.report and exp.report.get("title") else default


def write(exp: Export, fmt: str, path: Path | None, title: str) -> bytes:
    name = path.name if path is not None else "FILE"
    if fmt == "jsonl":
        data = to_jsonl(exp)
    elif fmt == "csv":
        data = to_csv(exp).encode()
    elif fmt == "html":
        data = to_html(exp, title, filename=name).encode()
    elif fmt == "pdf":
        data = to_pdf(exp, title, filename=name)
    else:
        raise ValueError(f"unknown export format {fmt!r}: use jsonl, csv, html or pdf")
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


def _squash(text: str) -> str:
    """Text compared without white space and with ligatures (PDF text extraction's "ﬃ") spelled out."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _same_document(lines: list[dict[str, Any]], shown: str, path: Path) -> None:
    """The pages of a PDF must show the report and the checkpoint its attachment carries.

    This binds the attachment to the pages (a valid export from another document, or another checkpoint,
    attached to these pages is refused); it does not re-render the pages, so an edit of the page text
    alone is not caught here.
    """
    page = _squash(shown)
    for line in lines:
        if line.get("kind") == "report" and isinstance(line.get("report"), dict):
            title = str(line["report"].get("title") or "")
            if title and _squash(title) not in page:
                raise StoreError(f"{path}: the pages do not show the report attached to them ({title!r})")
        if line.get("kind") == "checkpoint" and isinstance(line.get("note"), str):
            parts = line["note"].split("\n")
            if len(parts) > 2 and _squash(parts[2]) not in page:
                raise StoreError(f"{path}: the pages show another checkpoint than the one attached")


def read_export(path: Path) -> tuple[dict[str, Any], str | None, list[dict[str, Any]]]:
    """(header, checkpoint note, records) from a jsonl, csv or html export."""
    try:
        raw = path.read_bytes()
        if raw.startswith(b"%PDF-"):
            from audit.pdf import attachment

            blob, shown = attachment(raw, ATTACHMENT)
            attached = json.loads(blob)["lines"]
            _same_document(attached, shown, path)
            return _split(attached)
        text = raw.decode("utf-8")
    except OSError as exc:
        raise StoreError(f"cannot read export {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise StoreError(f"export {path} is not UTF-8 text") from None
    start = text.lstrip()[:1]
    try:
        if start == "{":
            return _split([json.loads(line) for line in text.splitlines() if line.strip()])
        if start == "<":
            marker = 'id="audit-export">'
            i = text.find(marker)
            if i < 0:  # exports written before the templates
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
                lines.append(
                    {
                        "kind": "record",
                        "seq": int(row["seq"]),
                        "body": row["body"],
                        "proof": row["proof"].split() if row["proof"] else [],
                        "view": view,
                    }
                )
        return _split(lines)
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"export {path} is malformed: {type(exc).__name__}") from None
