"""rego-cpp through ``regopy``: measured, kept as an alternative, not the default.

The decision entry points are compiled once into a rego-cpp bundle; each
thread gets its own Interpreter (interpreters hold the input, so they are not
shared), which makes this engine safe to call from any thread.

Two sharp edges handled here: an errored ``Output`` must never be turned into
a string (``str(output)`` segfaults in regopy 1.5.2), so the message is read
from the interpreter; and builtin errors are undefined by default, so strict
builtin errors are switched on to fail closed.
"""

from __future__ import annotations

import threading
from typing import Any

import regopy
from regopy.rego_shared import rego_get_error

from gateway.policy.bundle import Bundle
from gateway.policy.engines.base import UNDEFINED, CompiledPolicy, Engine
from gateway.policy.errors import PolicyCompileError, PolicyEvalError, scrub_engine_message


def _interpreter(bundle: Bundle, include_tests: bool) -> regopy.Interpreter:
    interp = regopy.Interpreter()
    interp.strict_built_in_errors = True
    for path, source in sorted(bundle.modules.items()):
        if not include_tests and path.endswith("_test.rego"):
            continue
        interp.add_module(path, source)
    interp.add_data_json(bundle.data_json)
    return interp


def _value(interp: regopy.Interpreter, output: Any) -> Any:
    if not output.results:
        raise PolicyEvalError(scrub_engine_message(rego_get_error(interp._impl) or "rego-cpp error"))
    exprs = output.results[0].expressions
    return exprs[0] if exprs else UNDEFINED


class RegopyPolicy(CompiledPolicy):
    engine_name = "regopy"

    def __init__(self, bundle: Bundle, compiled: Any, include_tests: bool) -> None:
        super().__init__(bundle)
        self._compiled = compiled
        self._include_tests = include_tests
        self._local = threading.local()

    def _runner(self) -> regopy.Interpreter:
        interp = getattr(self._local, "interp", None)
        if interp is None:
            interp = self._local.interp = regopy.Interpreter()
            interp.strict_built_in_errors = True
        return interp

    def evaluate_json(self, path: str, input_json: str | None) -> Any:
        interp = self._runner()
        try:
            interp.set_input_term(input_json or "{}")
            out = interp.query_bundle_entrypoint(self._compiled, path.strip("/"))
        except regopy.RegoError as exc:
            raise PolicyEvalError(scrub_engine_message(str(exc))) from None
        except ValueError:  # rego-cpp 1.5.2 does not escape quotes inside strings in its JSON output
            raise PolicyEvalError("rego-cpp produced invalid JSON for this decision") from None
        return _value(interp, out)

    def run_test(self, package: str, rule: str) -> bool:
        interp = _interpreter(self.bundle, True)
        try:
            out = interp.query(f"data.{package}.{rule}")
        except regopy.RegoError as exc:
            raise PolicyEvalError(scrub_engine_message(str(exc))) from None
        except ValueError:
            raise PolicyEvalError("rego-cpp produced invalid JSON") from None
        return _value(interp, out) is True


class RegopyEngine(Engine):
    name = "regopy"

    def compile(self, bundle: Bundle, entrypoints: list[str], *, include_tests: bool = True) -> RegopyPolicy:
        try:
            interp = _interpreter(bundle, include_tests)
            compiled = interp.build(None, [p.strip("/") for p in entrypoints])
        except regopy.RegoError as exc:
            raise PolicyCompileError(scrub_engine_message(str(exc))) from None
        if not compiled.ok():
            raise PolicyCompileError("rego-cpp could not build the bundle")
        policy = RegopyPolicy(bundle, compiled, include_tests)
        for path in entrypoints:
            try:
                policy.evaluate_json(path, "{}")
            except PolicyEvalError as exc:
                raise PolicyCompileError(str(exc)) from None
        return policy
