"""PDF and screenshots of the HTML reports, with headless Chromium (Debian's ``chromium`` package).

Chromium lays the page out exactly as a browser shows it (CSS grid, print
media, fonts), and ``--print-to-pdf`` is its own, well-kept print path. The PDF
then gets the export JSON as an embedded file (pypdf), so a PDF verifies on
its own like the HTML. ``scripts/setup-chromium`` installs the browser.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from audit.errors import StoreError

CHROMIUM_ENV = "CG_CHROMIUM"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--font-render-hinting=none",
]


class RenderError(StoreError):
    """Chromium is missing or could not render the page."""


def chromium() -> str:
    found = os.environ.get(CHROMIUM_ENV) or next(
        (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None
    )
    if not found:
        raise RenderError(
            "headless Chromium is needed for PDF and screenshots: run ./scripts/setup-chromium "
            f"(apt-get install chromium) or set {CHROMIUM_ENV}"
        )
    return found


def _run(args: list[str], html: str, out_name: str, timeout: float) -> bytes:
    with tempfile.TemporaryDirectory(prefix="cg-chromium-") as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(html, encoding="utf-8")
        out = Path(tmp) / out_name
        cmd = [
            chromium(),
            *FLAGS,
            f"--user-data-dir={tmp}/profile",
            *[a.replace("{out}", str(out)) for a in args],
            page.as_uri(),
        ]
        env = {**os.environ, "HOME": tmp}
        try:
            res = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            raise RenderError(f"chromium did not finish within {timeout:.0f} s") from None
        if not out.exists() or out.stat().st_size == 0:
            tail = (res.stderr or "").strip().splitlines()[-3:]
            raise RenderError(f"chromium wrote no {out_name} (exit {res.returncode}): {' | '.join(tail)}")
        return out.read_bytes()


def html_to_pdf(html: str, *, timeout: float = 120) -> bytes:
    return _run(["--no-pdf-header-footer", "--print-to-pdf={out}"], html, "page.pdf", timeout)


def screenshot(html: str, *, width: int = 1200, height: int = 1500, timeout: float = 120) -> bytes:
    """A PNG of the top ``width`` x ``height`` pixels of the page as a screen shows it."""
    return _run([f"--window-size={width},{height}", "--screenshot={out}"], html, "page.png", timeout)


def attach(pdf: bytes, files: dict[str, bytes], *, title: str, subject: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    for name, data in files.items():
        writer.add_attachment(name, data)
    writer.add_metadata({"/Title": title, "/Subject": subject, "/Creator": "compliance-gateway audit export"})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def attachment(pdf: bytes, name: str) -> tuple[bytes, str]:
    """(the attached file ``name``, the text the pages show)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(pdf))
        got = reader.attachments.get(name)
        if not got:
            raise StoreError(f"the PDF holds no {name} attachment: it is not an audit export")
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"the PDF cannot be read: {type(exc).__name__}") from None
    return got[0], text
