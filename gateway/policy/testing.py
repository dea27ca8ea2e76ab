"""The bundle's own Rego tests (``test_`` rules), discovered and run like ``opa test``.

Discovery reads regorus's AST (not a regex over the text), so commented-out or
indented rules are handled the way OPA handles them. A test passes when its
rule evaluates to ``true``; ``false`` or undefined fails; a run-time error is
reported as an error. The same discovery feeds the OPA-server check, which
asks the server for each ``data.<package>.<test>`` document.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import regorus

from gateway.policy.bundle import Bundle
from gateway.policy.engines.base import CompiledPolicy
from gateway.policy.errors import PolicyCompileError, PolicyError, scrub_engine_message


@dataclass(frozen=True, slots=True)
class TestCase:
    package: str  # dotted, without the "data." prefix
    name: str
    file: str
    line: int

    @property
    def path(self) -> str:
        return f"data.{self.package}.{self.name}"


@dataclass(slots=True)
class TestResult:
    test: TestCase
    status: str  # "pass" | "fail" | "error"
    duration_ms: float
    message: str = ""


@dataclass(slots=True)
class TestReport:
    revision: str
    engine: str
    results: list[TestResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.status == "pass" for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "engine": self.engine,
            "passed": self.passed,
            "failed": self.failed,
            "ok": self.ok,
            "results": [
                {
                    **asdict(r.test),
                    "status": r.status,
                    "duration_ms": round(r.duration_ms, 3),
                    "message": r.message,
                }
                for r in self.results
            ],
        }


def _ref_to_path(node: dict[str, Any]) -> str:
    if "Var" in node:
        return str(node["Var"]["value"])
    if "RefDot" in node:
        inner = node["RefDot"]
        return f"{_ref_to_path(inner['refr'])}.{inner['field'][1]}"
    if "RefBrack" in node:
        inner = node["RefBrack"]
        index = inner["index"]
        key = index.get("String", {}).get("value", "?") if isinstance(index, dict) else "?"
        return f"{_ref_to_path(inner['refr'])}.{key}"
    raise ValueError("unsupported package reference")


def discover_tests(bundle: Bundle) -> list[TestCase]:
    """Every ``test_`` rule of every ``*_test.rego`` module, in file then line order."""
    modules = bundle.test_modules()
    if not modules:
        return []
    engine = regorus.Engine()
    error: str | None = None
    try:
        for path, source in sorted(modules.items()):
            engine.add_policy(path, source)
        sources = json.loads(engine.get_ast_as_json())
    except Exception as exc:
        error = scrub_engine_message(str(exc))
    del engine  # on this thread, and before raising (see regorus_engine.py)
    if error is not None:
        raise PolicyCompileError(error)
    seen: set[tuple[str, str]] = set()
    cases: list[TestCase] = []
    for item in sources:
        file = item["source"]["file"]
        ast = item["ast"]
        package = _ref_to_path(ast["package"]["refr"])
        for rule in ast.get("rules", []):
            head = rule.get("Spec", {}).get("head", {})
            compr = head.get("Compr")
            if not compr or "Var" not in compr["refr"]:
                continue
            name = compr["refr"]["Var"]["value"]
            if not name.startswith("test_") or (package, name) in seen:
                continue
            seen.add((package, name))
            cases.append(TestCase(package, name, file, int(compr["span"]["line"])))
    return sorted(cases, key=lambda c: (c.file, c.line))


def run_tests(
    policy: CompiledPolicy,
    tests: Iterable[TestCase] | None = None,
    *,
    progress: Callable[[TestResult], None] | None = None,
) -> TestReport:
    """Run tests on a compiled policy; never raises for a failing or erroring test."""
    cases = list(discover_tests(policy.bundle) if tests is None else tests)
    report = TestReport(revision=policy.revision, engine=policy.engine_name)
    for case in cases:
        t0 = time.perf_counter()
        try:
            ok = policy.run_test(case.package, case.name)
            status, message = ("pass", "") if ok else ("fail", "rule is false or undefined")
        except PolicyError as exc:
            status, message = "error", str(exc)
        result = TestResult(case, status, (time.perf_counter() - t0) * 1000, message)
        report.results.append(result)
        if progress is not None:
            progress(result)
    return report
