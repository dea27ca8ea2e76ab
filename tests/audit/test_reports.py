"""The GDPR reports as a person reads them: content, words, PDF twins that verify, and their look.

One fixed sample log (tests/audit/reports_sample.py) is exported as each
report in HTML and PDF (real Chromium, real signatures); screenshots are
compared with the golden PNGs in docs/audit-reports/ with a tolerance.
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from audit.cli import main as cli
from audit.compliance import ComplianceConfigError, load_compliance, location_of, parse_compliance
from audit.errors import StoreError
from audit.export import read_export
from audit.keys import load_public_key
from audit.reports import ACCESS_ITEMS, OUTCOMES, ReportInput, access, activity, art30
from audit.verify import verify_export

from . import reports_sample as sample

# A screenshot may differ from its golden in at most this share of pixels (anti-aliasing, font hinting).
TOLERANCE = 0.02
PIXEL_DELTA = 64  # a pixel "differs" when a channel moves by more than this


class _Text(HTMLParser):
    """Visible text by section id; script and style contents are not visible."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self.current = "header"
        self.skip = 0
        self.in_appendix = False
        self.main: list[str] = []
        self.all: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "style"):
            self.skip += 1
        if tag == "section" and a.get("id"):
            self.current = a["id"] or ""
        if tag == "div" and a.get("class") == "appendix":
            self.in_appendix = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if self.skip or not data.strip():
            return
        self.sections.setdefault(self.current, []).append(data)
        self.all.append(data)
        if not self.in_appendix:
            self.main.append(data)


def visible(html: str) -> _Text:
    t = _Text()
    t.feed(html)
    return t


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[tuple[str, str], Path]]:
    work = tmp_path_factory.mktemp("sample")
    return work, sample.render_all(work, ("html", "pdf"))


def _text(rendered, report: str) -> _Text:  # noqa: ANN001
    return visible(rendered[1][(report, "html")].read_text(encoding="utf-8"))


PYTHONISMS = re.compile(r"\b(None|True|False)\b")
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


@pytest.mark.parametrize("report", [*sample.REPORTS, "plain"])
def test_people_see_words_not_python(rendered, report: str, tmp_path: Path) -> None:
    if report == "plain":  # a records-only export, no report
        out = tmp_path / "plain.html"
        work = rendered[0]
        args = sample.export_args(
            f"sqlite:///{work}/audit.db", sample._fixed_keys(work / "keys"), work / "gateway.yaml", "art30"
        )
        args = args[: args.index("--report")]
        assert cli([*args, "--format", "html", "--out", str(out), "--no-checkpoint"]) == 0
        t = visible(out.read_text(encoding="utf-8"))
        assert "Chat request to model qwen2.5-7b-instruct" in " ".join(t.all)
    else:
        t = _text(rendered, report)
    text = " ".join(t.all)
    assert not PYTHONISMS.findall(text), PYTHONISMS.findall(text)
    main = " ".join(t.main)
    assert not SNAKE.findall(main), f"raw keys outside the appendix: {SNAKE.findall(main)}"
    assert "prune --before" not in text and "distinct_pseudonymous" not in text


def test_access_reply_answers_every_item_of_art15(rendered) -> None:
    t = _text(rendered, "access")
    sec = {k: " ".join(v) for k, v in t.sections.items()}
    for item in ACCESS_ITEMS:
        assert len(sec.get(item, "")) > 60, f"Art. 15 item {item} is missing or empty"
    header = " ".join(t.sections["header"])
    assert "alice" in header and "Example Analytics GmbH" in header and "dpo@example.com" in header
    assert "Art. 15(1)(a)" in sec["a"] and "language models" in sec["a"]
    for words in ("email address", "phone number", "Chinese mobile phone number", "IP address"):
        assert words in sec["b"], words
    # Recipients by name and country; the policy-denied request to gpu-us never left, the answered one did.
    assert "Example GPU Cloud B.V." in sec["c"] and "the Netherlands" in sec["c"]
    assert "Example Inference Inc." in sec["c"] and "the United States" in sec["c"]
    assert "6 years" in sec["d"] and "90 days" in sec["d"]
    for right in ("rectification", "erase", "restrict", "object"):
        assert right in sec["e"], right
    assert "supervisory authority" in sec["f"] and "Berliner Beauftragte" in sec["f"]
    assert "access token" in sec["g"]
    assert "automatically" in sec["h"] and "llama-3.1-70b-instruct" in sec["h"] and "Art. 22" in sec["h"]
    assert "Standard contractual clauses" in sec["transfers"] and "the United States" in sec["transfers"]
    # The records: readable, decrypted where the key exists.
    assert "203.0.113.11" in sec["records"] and "Refused by the usage policy" in sec["records"]
    assert "2026-03-01 09:00:08 UTC" in sec["records"]
    assert "default" not in sec["c"]  # alice's requests never went there
    # The technical detail sits in the appendix only.
    assert "req-0001" in sec["tech"] and "req-0001" not in sec["records"]


def test_access_reply_after_erasure_shows_erased(rendered, tmp_path: Path) -> None:
    work = rendered[0]
    url, keys, cfg = f"sqlite:///{work}/audit.db", sample._fixed_keys(work / "keys"), work / "gateway.yaml"
    other = tmp_path / "bob.html"
    args = sample.export_args(url, keys, cfg, "access")
    args[args.index("alice")] = "bob"
    assert cli([*args, "--format", "html", "--out", str(other)]) == 0
    before = " ".join(visible(other.read_text()).sections["records"])
    assert "203.0.113.13" in before
    assert (
        cli(
            [
                "erase",
                "--store",
                url,
                "--signing-key-file",
                keys["signing_key_file"],
                "--subject-key-file",
                keys["subject_key_file"],
                "--subject",
                "bob",
            ]
        )
        == 0
    )
    assert cli([*args, "--format", "html", "--out", str(other)]) == 0
    t = visible(other.read_text())
    rec = " ".join(t.sections["records"])
    assert "203.0.113.13" not in other.read_text() and "(erased)" in rec and "were erased" in rec
    assert "destroyed" in " ".join(t.sections["ids"])
    assert verify_export(other, load_public_key(keys["public_key"])).ok


def test_art30_record_in_the_authorities_layout(rendered) -> None:
    t = _text(rendered, "art30")
    sec = {k: " ".join(v) for k, v in t.sections.items()}
    for sid, ref in [
        ("controller", "30(1)(a)"),
        ("purposes", "30(1)(b)"),
        ("subjects", "30(1)(c)"),
        ("recipients", "30(1)(d)"),
        ("transfers", "30(1)(e)"),
        ("retention", "30(1)(f)"),
        ("security", "30(1)(g)"),
    ]:
        assert ref in sec[sid], sid
    assert "Dr. Jana Weber" in sec["controller"] and "DPA-2025-014" in sec["recipients"]
    assert "6 years" in sec["retention"] and "90 days" in sec["retention"] and "90 days" in sec["data"]
    # Transfers from region labels and the controller's country; the unlabelled upstream is flagged.
    tr = sec["transfers"]
    assert "the United States yes, third country Standard contractual clauses" in tr
    assert "the EEA no not needed" in tr
    assert "location unknown" in tr and "'default'" in tr
    assert "Example Inference Inc. the United States processor - the United States 2" in sec["recipients"]


def test_activity_separates_auth_failures_from_policy_denials(rendered) -> None:
    blob = rendered[1][("activity", "html")].read_text().split('id="audit-export">')[1].split("</script>")[0]
    report = next(x for x in json.loads(blob)["lines"] if x["kind"] == "report")["report"]
    facts = report["facts"]
    tot = facts["totals"]
    assert (
        tot["requests"],
        tot["answered"],
        tot["auth"],
        tot["policy"],
        tot["ratelimit"],
        tot["upstream"],
    ) == (13, 7, 2, 2, 1, 1)
    assert facts["per_tenant"]["(not authenticated)"]["auth"] == 2
    assert facts["per_tenant"]["acme"]["policy"] == 2 and facts["per_tenant"]["acme"]["pii_items"] == 8
    assert "unspecified" not in json.dumps(report)
    assert facts["auth_failures"] == {
        "(not authenticated): access token expired": 1,
        "(not authenticated): token signature invalid": 1,
    }
    assert facts["per_day"]["2026-03-02 globex"]["upstream"] == 1
    sec = {k: " ".join(v) for k, v in _text(rendered, "activity").sections.items()}
    assert "US social security number" in sec["redactions"] and "token signature invalid" in sec["auth"]


@pytest.mark.parametrize("report", sample.REPORTS)
def test_pdf_carries_the_verification_data(rendered, report: str, tmp_path: Path) -> None:
    from pypdf import PdfReader

    pdf = rendered[1][(report, "pdf")]
    pub = rendered[0] / "keys" / "signing-key.pub.pem"
    assert pdf.read_bytes().startswith(b"%PDF-")
    reader = PdfReader(pdf)
    assert "GDPR" in reader.metadata.title or report == "activity"
    first = reader.pages[0].extract_text()
    assert first.splitlines()[0][:20] in rendered[1][(report, "html")].read_text()
    html_header, html_note, html_records = read_export(rendered[1][(report, "html")])
    assert read_export(pdf) == (html_header, html_note, html_records)
    assert cli(["verify", "--export", str(pdf), "--public-key", str(pub)]) == 0
    # Tamper with the attached export: verification fails.
    from pypdf import PdfWriter

    data = json.loads(reader.attachments["audit-export.json"][0])
    cp = next(x for x in data["lines"] if x["kind"] == "checkpoint")
    cp["note"] = cp["note"].replace("\n13\n", "\n14\n")
    w = PdfWriter()  # the same pages, the forged attachment
    for page in reader.pages:
        w.add_page(page)
    w.add_attachment("audit-export.json", json.dumps(data).encode())
    forged = tmp_path / "forged.pdf"
    w.write(forged)
    rep = verify_export(forged, load_public_key(pub))
    assert not rep.ok and "checkpoint" in rep.problems[0]
    # A valid export attached to another report's pages is refused: the pages must show what is attached.
    other = "art30" if report != "art30" else "access"
    w = PdfWriter()
    for page in PdfReader(rendered[1][(other, "pdf")]).pages:
        w.add_page(page)
    w.add_attachment("audit-export.json", reader.attachments["audit-export.json"][0])
    swapped = tmp_path / "swapped.pdf"
    w.write(swapped)
    with pytest.raises(StoreError, match="do not show the report"):
        read_export(swapped)
    plain = tmp_path / "plain.pdf"  # a PDF with no export attached: a clear error, exit 2
    w = PdfWriter()
    w.add_blank_page(200, 200)
    w.write(plain)
    assert cli(["verify", "--export", str(plain), "--public-key", str(pub)]) == 2


def _diff_share(a: Image.Image, b: Image.Image) -> float:
    if a.size != b.size:
        return 1.0
    d = (
        ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
        .convert("L")
        .point(lambda v: 255 if v > PIXEL_DELTA else 0)
    )
    return sum(1 for v in d.getdata() if v) / (a.size[0] * a.size[1])


def test_reports_look_like_their_golden_screenshots(rendered) -> None:
    from audit.pdf import screenshot

    shots = {}
    for report in sample.REPORTS:
        golden = sample.DOCS / f"{report}.png"
        assert golden.exists(), f"no golden {golden}: run .venv/bin/python -m tests.audit.reports_sample"
        shot = Image.open(io.BytesIO(screenshot(rendered[1][(report, "html")].read_text(encoding="utf-8"))))
        shots[report] = shot
        share = _diff_share(shot, Image.open(golden))
        assert share <= TOLERANCE, (
            f"{report}: {share:.1%} of pixels differ from {golden.name}; if the change is "
            "meant, regenerate with .venv/bin/python -m tests.audit.reports_sample"
        )
    # The tolerance is tight enough to tell the reports apart, and to catch a layout change.
    assert _diff_share(shots["access"], Image.open(sample.DOCS / "art30.png")) > 3 * TOLERANCE
    narrower = (
        rendered[1][("access", "html")]
        .read_text(encoding="utf-8")
        .replace("max-width: 1100px", "max-width: 900px")
    )
    assert "max-width: 900px" in narrower
    shot = Image.open(io.BytesIO(screenshot(narrower)))
    assert _diff_share(shot, Image.open(sample.DOCS / "access.png")) > 3 * TOLERANCE


def test_compliance_section_is_validated_with_the_key_named(tmp_path: Path) -> None:
    from gateway.config import ConfigError, load_config

    good = {"controller": {"name": "X GmbH", "country": "de"}, "retention": {"audit_records": "2 Years"}}
    c = parse_compliance(good)
    assert c.controller.country == "DE" and c.retention.audit_records == "2 years"
    for bad, key in [
        ({**good, "controler": {}}, "compliance.controler"),
        (
            {**good, "retention": {"audit_records": "audit prune --before 2026-01-01"}},
            "compliance.retention.audit_records",
        ),
        ({**good, "controller": {"name": "X", "country": "Germany"}}, "compliance.controller.country"),
        (
            {**good, "recipients": [{"name": "A", "country": "US", "safeguards": "SCC"}]},
            "compliance.recipients.0.safeguards",
        ),
    ]:
        with pytest.raises(ComplianceConfigError, match=re.escape(key)):
            parse_compliance(bad)
        with pytest.raises(ConfigError, match=re.escape(key)):
            load_config(overrides={"compliance": bad})
    with pytest.raises(ConfigError, match="compliance: .*not configured: gpu-mars"):
        load_config(
            overrides={
                "compliance": {**good, "recipients": [{"name": "A", "country": "US", "upstream": "gpu-mars"}]}
            }
        )
    assert load_config(overrides={"compliance": good}).compliance.controller.name == "X GmbH"
    # The audit CLI reads the same file, or the section alone.
    section = tmp_path / "compliance.yaml"
    section.write_text("controller: {name: X GmbH, country: FR}\n")
    assert load_compliance(section)[0].controller.country == "FR"
    section.write_text("compliance:\n  controller: {name: X GmbH, country: FR, fax: 1}\n")
    with pytest.raises(ComplianceConfigError, match="compliance.controller.fax"):
        load_compliance(section)
    assert (
        cli(
            [
                "export",
                "--report",
                "art30",
                "--config",
                str(section),
                "--store",
                f"sqlite:///{tmp_path}/none.db",
            ]
        )
        == 2
    )


@pytest.mark.parametrize(
    "labels,expected",
    [
        ({}, None),
        ({"region": "eu-central-1"}, "EEA"),
        ({"region": "us"}, "US"),
        ({"region": "us-east-1"}, "US"),
        ({"country": "ch"}, "CH"),
        ({"region": "de"}, "DE"),
        ({"region": "ap-northeast-1"}, "JP"),
        ({"region": "moon-1"}, "?moon-1"),
        ({"region": "europe-west4"}, "EEA"),
    ],
)
def test_locations_from_labels(labels: dict, expected: str | None) -> None:
    assert location_of(labels) == expected


_payloads = st.fixed_dictionaries(
    {
        "status": st.sampled_from([200, 400, 401, 403, 413, 429, 499, 500, 502, 503, 504]) | st.none(),
        "error_code": st.sampled_from([None, "invalid_signature", "policy_denied", "bad_gateway", "x_y"]),
        "deny_reasons": st.lists(st.text("abcxyz -[]</>&'\"", min_size=1, max_size=24), max_size=2)
        | st.none(),
        "upstream": st.sampled_from([None, "gpu-eu", "gpu-us", "default", "ghost"]),
        "pii": st.dictionaries(
            st.sampled_from(["EMAIL_ADDRESS", "NEW_KIND", "PERSON"]), st.integers(-1, 3) | st.none()
        ),
        "route": st.sampled_from(["chat", "embeddings", "/v1/models", None]),
        "model": st.text("abcxyz-.", max_size=8) | st.none(),
    }
)
_docs = st.lists(
    st.tuples(_payloads, st.sampled_from([None, "acme", "globex"]), st.integers(1, 9)), max_size=12
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_docs)
def test_reports_hold_for_any_records(items) -> None:  # noqa: ANN001
    """For any records: every request counted once, no Python value in words, no upstream left out."""
    from audit.export import Export, to_html

    cfg = {
        "upstreams": [
            {"name": "gpu-eu", "url": "http://a", "labels": {"region": "eu"}},
            {"name": "default", "url": "http://b"},
        ]
    }
    comp = parse_compliance({"controller": {"name": "C", "country": "DE"}})
    docs = [
        {
            "time": f"2026-01-0{d}T00:00:00.000000Z",
            "type": "gateway.request",
            "tenant": t,
            "actor": "ab",
            "payload": p,
        }
        for p, t, d in items
    ]
    personal = [(i, {"client_ip": "192.0.2.1"} if i % 2 else "(erased)") for i in range(len(docs))]
    inp = ReportInput(docs, cfg, {"actor": "ab", "subject": "s"}, comp, personal)
    act = activity(inp)
    tot = act["facts"]["totals"]
    assert tot["requests"] == len(docs) == sum(tot[k] for k in OUTCOMES)
    assert tot["auth"] == sum(1 for p, _, _ in items if p["status"] == 401)
    r30 = art30(inp)
    named = {r["upstream"] for r in r30["facts"]["recipients"]}
    assert {"gpu-eu", "default"} <= named
    assert {p["upstream"] for p, _, _ in items if p["upstream"] and p["status"] in (200, 502, 504)} <= named
    for rep in (act, r30, access(inp)):
        exp = Export({"origin": "o", "created": "2026-01-01T00:00:00.000000Z"}, None, report=rep)
        page = to_html(exp, "t")
        text = " ".join(visible(page).all)
        assert not PYTHONISMS.search(text), PYTHONISMS.findall(text)
        # Whatever a policy writes in its reasons, it stays text: one script element (the export), one style.
        assert page.count("<script") == 1 and page.count("</script>") == 1 and page.count("<style") == 1
        blob = page.split('id="audit-export">')[1].split("</script>")[0]
        assert json.loads(blob)["lines"][0]["origin"] == "o"
