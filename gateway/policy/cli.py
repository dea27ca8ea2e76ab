"""``gateway policy``: the two things a policy author does all day.

    gateway policy test [--bundle DIR] [--engine NAME] [--opa-url URL] [--json]
    gateway policy eval --input FILE [--bundle DIR] [--engine NAME] [--decision PATH] [--json]

``test`` runs the bundle's ``test_`` rules on the embedded engine (or, with
``--opa-url``, on an OPA server that serves the same bundle) and prints
pass/fail per test; exit 0 when all pass, 1 when any fails, 2 when the bundle
cannot be loaded. ``eval`` prints the decision for one input document; exit 0
when allowed, 1 when denied.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from commandline import FAILURE, OK, UsageError, json_option
from gateway.policy.bundle import default_bundle_dir, load_bundle
from gateway.policy.decision import InvalidDecision, check_decision
from gateway.policy.engines import engine_names, get_engine
from gateway.policy.errors import PolicyError
from gateway.policy.testing import TestReport, TestResult, discover_tests, run_tests

DEFAULT_DECISION = "gateway/authz/decision"


def _common(f: Any) -> Any:
    f = click.option(
        "--bundle",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None,
        help="bundle directory (default: the repository's policies/)",
    )(f)
    f = click.option(
        "--engine",
        default="regorus",
        show_default=True,
        type=click.Choice(engine_names()),
        help="embedded Rego engine",
    )(f)
    return json_option(f)


@click.group(help="Test and evaluate the Rego policy bundle.")
def main() -> None:
    pass


def _compile(bundle: Path | None, engine: str, entrypoints: list[str]) -> Any:
    bundle_dir = bundle or default_bundle_dir()
    try:
        loaded = load_bundle(bundle_dir)
        return get_engine(engine).compile(loaded, entrypoints, include_tests=True)
    except PolicyError as exc:
        raise UsageError(f"bundle {bundle_dir} cannot be used: {exc}") from None


def _print_result(r: TestResult) -> None:
    mark = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}[r.status]
    extra = f"  ({r.message})" if r.message and r.status != "pass" else ""
    print(
        f"{mark:5} {r.test.file}:{r.test.line} {r.test.package}.{r.test.name}  {r.duration_ms:.2f} ms{extra}"
    )


def _report(report: TestReport, as_json: bool) -> int:
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for r in report.results:
            _print_result(r)
        verdict = "ok" if report.ok else "FAILED"
        print(
            f"{verdict}: {report.passed} passed, {report.failed} failed ({report.engine}, bundle {report.revision})"
        )
    if not report.results:
        print("no test_ rules found in *_test.rego files", file=sys.stderr)
        return FAILURE
    return OK if report.ok else FAILURE


async def _test_over_opa(url: str, bundle_dir: Path) -> TestReport:
    from gateway.policy.opa import OpaServerDecider, run_tests_over_opa

    try:
        cases = discover_tests(load_bundle(bundle_dir))
    except PolicyError as exc:
        raise UsageError(f"bundle {bundle_dir} cannot be used: {exc}") from None
    decider = OpaServerDecider(url, DEFAULT_DECISION, timeout_s=5.0)
    await decider.start()
    try:
        return await run_tests_over_opa(decider, cases)
    finally:
        await decider.close()


@main.command(
    "test",
    help="Run the bundle's test_ rules and print pass/fail per test. "
    "Exit 0 when all pass, 1 when any fails, 2 when the bundle cannot be loaded.",
)
@_common
@click.option(
    "--opa-url", default=None, help="run the tests on this OPA server instead (it must serve the bundle)"
)
def _cmd_test(bundle: Path | None, engine: str, as_json: bool, opa_url: str | None) -> int:
    if opa_url:
        return _report(asyncio.run(_test_over_opa(opa_url, bundle or default_bundle_dir())), as_json)
    policy = _compile(bundle, engine, [DEFAULT_DECISION])
    return _report(run_tests(policy), as_json)


def _read_input(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read input file {source}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"input file {source} is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None


@main.command("eval", help="Print the decision for one input document. Exit 0 when allowed, 1 when denied.")
@_common
@click.option(
    "--input", "source", required=True, help="JSON file holding the input document ('-' reads stdin)"
)
@click.option("--decision", default=DEFAULT_DECISION, show_default=True, help="decision path")
def _cmd_eval(bundle: Path | None, engine: str, as_json: bool, source: str, decision: str) -> int:
    doc = _read_input(source)
    decision_path = decision.strip("/")
    policy = _compile(bundle, engine, [decision_path])
    t0 = time.perf_counter()
    try:
        raw = policy.evaluate_json(decision_path, json.dumps(doc))
        checked = check_decision(raw)
        out: dict[str, Any] = {
            "allow": checked.allow,
            "deny_reasons": checked.deny_reasons,
            "obligations": checked.obligations,
        }
        if checked.audit:
            out["audit"] = checked.audit
    except (InvalidDecision, PolicyError) as exc:
        out = {"allow": False, "deny_reasons": [f"fail closed: {exc}"], "obligations": {}}
    out["revision"] = policy.revision
    out["latency_ms"] = round((time.perf_counter() - t0) * 1000, 3)
    if as_json:
        print(json.dumps(out, indent=2))
    else:
        print("ALLOW" if out["allow"] else "DENY", f"(bundle {policy.revision}, {out['latency_ms']} ms)")
        for reason in out["deny_reasons"]:
            print(f"  deny: {reason}")
        for name, value in out["obligations"].items():
            print(f"  obligation {name}: {json.dumps(value)}")
    return OK if out["allow"] else FAILURE
