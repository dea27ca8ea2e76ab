"""Dataset redaction: .jsonl, .csv and .txt, streaming in constant memory, optionally on N processes.

Records are read line by line (CSV rows by the csv module), grouped into
batches so the NER runs once per batch (``nlp.pipe``), and written in input
order. With ``workers > 1`` each worker process loads its own engine; at most
``2 * workers`` batches are in flight, so memory stays flat on any file size.

Nothing is dropped silently:
- a JSONL line that is not valid JSON (or not an object) is reported with its
  line number, redacted as plain text and written, and counted;
- bytes that are not UTF-8 survive (decoded with ``surrogateescape``) and the
  lines are counted;
- a CSV row with the wrong number of fields is reported, every cell redacted.
Placeholders are numbered per record (a record is one "request"); use the
``hash`` operator for tokens that are stable across records.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from privacy.pii.engine import PIIEngine
from privacy.pii.keys import TenantKeys, load_master_secret
from privacy.pii.operators import RedactionSession
from privacy.pii.settings import PIISettings

BATCH = 64
FORMATS = ("jsonl", "csv", "txt")
MAX_REPORTED_LINES = 50


class DatasetError(ValueError):
    """The input cannot be processed as asked (unknown format, missing column, binary file)."""


@dataclass
class Summary:
    input: str
    output: str
    format: str
    records: int = 0
    records_with_pii: int = 0
    entities: dict[str, int] = field(default_factory=dict)
    malformed: int = 0
    malformed_lines: list[int] = field(default_factory=list)
    invalid_utf8_lines: int = 0
    missing_field: int = 0
    seconds: float = 0.0
    workers: int = 1

    def add(self, part: dict[str, Any]) -> None:
        self.records += part["records"]
        self.records_with_pii += part["records_with_pii"]
        for k, v in part["entities"].items():
            self.entities[k] = self.entities.get(k, 0) + v
        self.malformed += len(part["malformed"])
        room = MAX_REPORTED_LINES - len(self.malformed_lines)
        if room > 0:
            self.malformed_lines.extend(part["malformed"][:room])
        self.invalid_utf8_lines += part["invalid_utf8"]
        self.missing_field += part["missing"]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["entities"] = dict(sorted(self.entities.items()))
        d["records_per_second"] = self.records / self.seconds if self.seconds else None
        return d

    def text(self) -> str:
        lines = [
            f"redacted {self.records} {self.format} records ({self.records_with_pii} with PII) "
            f"from {self.input} to {self.output} in {self.seconds:.1f} s on {self.workers} worker(s)",
        ]
        for k, v in sorted(self.entities.items()):
            lines.append(f"  {k:<16} {v}")
        if self.malformed:
            shown = ", ".join(map(str, self.malformed_lines))
            more = "" if self.malformed <= len(self.malformed_lines) else ", ..."
            lines.append(
                f"malformed records: {self.malformed} (lines {shown}{more}); redacted as plain text and kept"
            )
        if self.invalid_utf8_lines:
            lines.append(f"lines with invalid UTF-8: {self.invalid_utf8_lines} (bytes kept as they were)")
        if self.missing_field:
            lines.append(f"records without the chosen field(s): {self.missing_field} (written unchanged)")
        return "\n".join(lines)


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise DatasetError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix in ("csv", "txt"):
        return suffix
    raise DatasetError(f"cannot tell the format of {path.name}; name it .jsonl/.csv/.txt or pass --format")


def check_not_binary(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if b"\x00" in head:
        raise DatasetError(f"{path} looks like a binary file (NUL bytes); only text datasets can be redacted")


# -- the work on one batch (runs in the main process or a worker) -------------------------
class BatchRedactor:
    def __init__(self, settings: PIISettings, tenant: str, nlp: Any = None) -> None:
        self.settings = settings
        self.tenant = tenant
        self.engine = PIIEngine(settings)
        self.engine.start(nlp)
        master = load_master_secret(settings.hash_key_file, settings.hash_key_env)
        self.keys = TenantKeys(master) if master is not None else None

    def redact_texts(self, texts: list[str]) -> list[str]:
        """The texts with their personal data replaced by the configured operators."""
        return self._redact_texts(texts)[0]

    def _redact_texts(self, texts: list[str]) -> tuple[list[str], list[Counter[str]]]:
        findings = self.engine.analyze_many(texts, self.tenant) if texts else []
        out, counts = [], []
        for text, found in zip(texts, findings, strict=True):
            session = RedactionSession(self.settings, self.tenant, self.keys)
            out.append(session.apply(text, found))
            counts.append(Counter(f.entity_type for f in found))
        return out, counts

    def run(self, fmt: str, batch: list[tuple[int, Any]], fields: list[str] | None) -> dict[str, Any]:
        return {"jsonl": self._jsonl, "csv": self._csv, "txt": self._txt}[fmt](batch, fields)

    @staticmethod
    def _part(n: int) -> dict[str, Any]:
        return {
            "records": n,
            "records_with_pii": 0,
            "entities": Counter(),
            "malformed": [],
            "invalid_utf8": 0,
            "missing": 0,
            "lines": [],
        }

    def _finish(
        self, part: dict[str, Any], slots: list[tuple[int, Any]], texts: list[str], owners: list[int]
    ) -> list[Counter[str]]:
        red, counts = self._redact_texts(texts)
        for (container, key), value in zip(slots, red, strict=True):
            container[key] = value
        per_record: dict[int, Counter[str]] = {}
        for owner, c in zip(owners, counts, strict=True):
            per_record.setdefault(owner, Counter()).update(c)
            part["entities"].update(c)
        part["records_with_pii"] = sum(1 for c in per_record.values() if sum(c.values()))
        return list(per_record.values())

    def _txt(self, batch: list[tuple[int, Any]], fields: list[str] | None) -> dict[str, Any]:
        part = self._part(len(batch))
        lines = [[line] for _, line in batch]
        part["invalid_utf8"] = sum(_has_surrogates(line) for _, line in batch)
        self._finish(part, [(cell, 0) for cell in lines], [c[0] for c in lines], list(range(len(batch))))
        part["lines"] = [c[0] for c in lines]
        return part

    def _jsonl(self, batch: list[tuple[int, Any]], fields: list[str] | None) -> dict[str, Any]:
        part = self._part(len(batch))
        fields = fields or ["text"]
        records: list[Any] = []
        slots: list[tuple[Any, Any]] = []
        texts: list[str] = []
        owners: list[int] = []
        for i, (lineno, line) in enumerate(batch):
            part["invalid_utf8"] += _has_surrogates(line)
            body = line.rstrip("\r\n")
            if not body.strip():
                records.append(("raw", line))
                continue
            try:
                obj = json.loads(body)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
            except ValueError:
                part["malformed"].append(lineno)
                cell = [body]
                records.append(("malformed", cell))
                slots.append((cell, 0))
                texts.append(body)
                owners.append(i)
                continue
            records.append(("obj", obj))
            found_any = False
            for f in fields:
                parent, key = _resolve(obj, f)
                if parent is None:
                    continue
                found_any = True
                value = parent[key]
                if isinstance(value, str):
                    slots.append((parent, key))
                    texts.append(value)
                    owners.append(i)
                else:
                    for c, k in _strings_in(value):
                        slots.append((c, k))
                        texts.append(c[k])
                        owners.append(i)
            if not found_any:
                part["missing"] += 1
        self._finish(part, slots, texts, owners)
        out = []
        for kind, rec in records:
            if kind == "raw":
                out.append(rec if rec.endswith("\n") else rec + "\n")
            elif kind == "malformed":
                out.append(rec[0] + "\n")
            else:
                out.append(json.dumps(rec, ensure_ascii=False) + "\n")
        part["lines"] = out
        return part

    def _csv(self, batch: list[tuple[int, Any]], fields: list[str] | None) -> dict[str, Any]:
        # batch items: (line number, (row, column indexes to redact, expected width))
        part = self._part(len(batch))
        slots, texts, owners, rows = [], [], [], []
        for i, (lineno, (row, cols, width)) in enumerate(batch):
            part["invalid_utf8"] += any(_has_surrogates(c) for c in row)
            if len(row) != width:
                part["malformed"].append(lineno)
                cols = range(len(row))
            for c in cols:
                if c < len(row) and row[c]:
                    slots.append((row, c))
                    texts.append(row[c])
                    owners.append(i)
            rows.append(row)
        self._finish(part, slots, texts, owners)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerows(rows)
        part["lines"] = [buf.getvalue()]
        return part


def _has_surrogates(s: str) -> bool:
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _resolve(obj: dict[str, Any], path: str) -> tuple[Any, Any]:
    cur: Any = obj
    parts = path.split(".")
    for p in parts[:-1]:
        if not isinstance(cur, dict) or p not in cur:
            return None, None
        cur = cur[p]
    if not isinstance(cur, dict) or parts[-1] not in cur:
        return None, None
    return cur, parts[-1]


def _strings_in(node: Any) -> Iterator[tuple[Any, Any]]:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        if isinstance(v, str):
            yield node, k
        elif isinstance(v, dict | list):
            yield from _strings_in(v)


# -- worker processes ------------------------------------------------------------------------
_WORKER: BatchRedactor | None = None


def _init_worker(settings_json: str, tenant: str) -> None:
    global _WORKER
    _WORKER = BatchRedactor(PIISettings.model_validate_json(settings_json), tenant)


def _work(fmt: str, batch: list[tuple[int, Any]], fields: list[str] | None) -> dict[str, Any]:
    assert _WORKER is not None
    return _WORKER.run(fmt, batch, fields)


# -- reading -------------------------------------------------------------------------------
def _read_lines(fh: Any) -> Iterator[tuple[int, str]]:
    for n, raw in enumerate(fh, start=1):
        yield n, raw.decode("utf-8", errors="surrogateescape")


def _batches(items: Iterable[tuple[int, Any]], size: int = BATCH) -> Iterator[list[tuple[int, Any]]]:
    batch: list[tuple[int, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def redact_file(
    src: Path,
    dst: Path,
    settings: PIISettings,
    *,
    fields: list[str] | None = None,
    fmt: str | None = None,
    workers: int = 1,
    tenant: str = "default",
    progress: bool | None = None,
    nlp: Any = None,
) -> Summary:
    """Redact ``src`` into ``dst``; returns the summary (counts per entity type, malformed lines)."""
    from tqdm import tqdm

    fmt = detect_format(src, fmt)
    check_not_binary(src)
    if src.resolve() == dst.resolve():
        raise DatasetError("input and output are the same file; write to a new file")
    summary = Summary(str(src), str(dst), fmt, workers=workers)
    t0 = time.perf_counter()
    size = src.stat().st_size
    pool: ProcessPoolExecutor | None = None
    local: BatchRedactor | None = None
    if workers > 1:
        pool = ProcessPoolExecutor(
            workers, initializer=_init_worker, initargs=(settings.model_dump_json(), tenant)
        )
    else:
        local = BatchRedactor(settings, tenant, nlp)
    bar = tqdm(
        total=size,
        unit="B",
        unit_scale=True,
        desc=f"redact {src.name}",
        disable=progress is False if progress is not None else None,
        file=sys.stderr,
    )
    try:
        with (
            open(src, "rb") as fin,
            open(dst, "w", encoding="utf-8", errors="surrogateescape", newline="") as fout,
        ):
            items, header = _items(fmt, fin, fields)
            if header is not None:
                fout.write(header)
            pending: list[tuple[Future[dict[str, Any]] | dict[str, Any], int]] = []

            def drain(limit: int) -> None:
                while len(pending) > limit:
                    fut, nbytes = pending.pop(0)
                    part = fut.result() if isinstance(fut, Future) else fut
                    fout.writelines(part["lines"])
                    summary.add(part)
                    bar.update(nbytes)

            for batch in _batches(items):
                nbytes = sum(_size(fmt, it) for it in batch)
                if pool is not None:
                    pending.append((pool.submit(_work, fmt, batch, fields), nbytes))
                    drain(2 * workers)
                else:
                    assert local is not None
                    pending.append((local.run(fmt, batch, fields), nbytes))
                    drain(0)
            drain(0)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    summary.seconds = time.perf_counter() - t0
    return summary


def _size(fmt: str, item: tuple[int, Any]) -> int:
    if fmt == "csv":
        return sum(len(c) for c in item[1][0]) + len(item[1][0])
    return len(item[1].encode("utf-8", errors="surrogateescape"))


def _items(fmt: str, fin: Any, fields: list[str] | None) -> tuple[Iterator[tuple[int, Any]], str | None]:
    if fmt != "csv":
        return _read_lines(fin), None
    text = io.TextIOWrapper(fin, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return iter(()), ""
    if fields:
        missing = [f for f in fields if f not in header]
        if missing:
            raise DatasetError(f"CSV has no column(s) {missing}; columns are {header}")
        cols = [header.index(f) for f in fields]
    else:
        cols = list(range(len(header)))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(header)
    width = len(header)

    def rows() -> Iterator[tuple[int, Any]]:
        for row in reader:
            yield reader.line_num, (row, cols, width)

    return rows(), buf.getvalue()
