"""regorus (Rust) through ``gordon-to-regorus``: the default embedded engine.

A ``regorus.Engine`` is a pyo3 ``unsendable`` class: touching it from a thread
other than the one that made it raises ``PanicException``, a BaseException
that ``except Exception`` does not catch. So a compiled policy remembers its
owner thread and refuses (with a normal PolicyEvalError) to be used anywhere
else; the plugin evaluates on the event-loop thread only, and the reload
watcher compiles throw-away validation copies inside its worker thread.
"""

from __future__ import annotations

import threading
from typing import Any

import regorus

from gateway.policy.bundle import Bundle
from gateway.policy.engines.base import UNDEFINED, CompiledPolicy, Engine, rule_path
from gateway.policy.errors import PolicyCompileError, PolicyEvalError, scrub_engine_message


def _is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


def _plain(value: Any) -> Any:
    """regorus returns Rego sets as Python sets: make them JSON-shaped (sorted lists)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [_plain(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    return value


class RegorusPolicy(CompiledPolicy):
    engine_name = "regorus"

    def __init__(self, bundle: Bundle, engine: Any, entrypoints: list[str]) -> None:
        super().__init__(bundle)
        self._engine = engine
        self._owner = threading.get_ident()
        self._entrypoints = {p: rule_path(p) for p in entrypoints}

    def _check_thread(self) -> None:
        if threading.get_ident() != self._owner:
            raise PolicyEvalError("regorus engine used from a thread other than the one that compiled it")

    def evaluate_json(self, path: str, input_json: str | None) -> Any:
        self._check_thread()
        rule = self._entrypoints.get(path) or rule_path(path)
        try:
            if input_json is None:
                self._engine.set_input_json("{}")
            else:
                self._engine.set_input_json(input_json)
            try:
                value = self._engine.eval_rule(rule)
            except RuntimeError as exc:
                if "not a valid rule path" not in str(exc):
                    raise
                return self._query(rule)  # a package, a data document or nothing: OPA's Data API semantics
        except Exception as exc:
            raise PolicyEvalError(scrub_engine_message(str(exc))) from None
        except BaseException as exc:
            if _is_panic(exc):
                raise PolicyEvalError("regorus panicked: " + scrub_engine_message(str(exc))) from None
            raise
        # eval_rule maps both 'undefined' and null to None; a null decision is invalid anyway.
        return UNDEFINED if value is None else _plain(value)

    def _query(self, ref: str) -> Any:
        result = self._engine.eval_query(ref).get("result") or []
        if not result or not result[0].get("expressions"):
            return UNDEFINED
        return _plain(result[0]["expressions"][0]["value"])

    def run_test(self, package: str, rule: str) -> bool:
        self._check_thread()
        engine = self._engine.clone()  # tests run without input, on a copy: no state leaks
        try:
            value = engine.eval_rule(f"data.{package}.{rule}")
        except RuntimeError as exc:
            if "not a valid rule path" in str(exc):
                return False  # no such test rule
            raise PolicyEvalError(scrub_engine_message(str(exc))) from None
        except Exception as exc:
            raise PolicyEvalError(scrub_engine_message(str(exc))) from None
        except BaseException as exc:
            if _is_panic(exc):
                raise PolicyEvalError("regorus panicked: " + scrub_engine_message(str(exc))) from None
            raise
        return value is True

    def close(self) -> None:
        self._check_thread()
        self._engine = None


class RegorusEngine(Engine):
    name = "regorus"

    def compile(self, bundle: Bundle, entrypoints: list[str], *, include_tests: bool = True) -> RegorusPolicy:
        # Errors are raised outside the except blocks, after the engine is dropped: an exception's
        # traceback keeps its frames' locals alive, and an engine freed on another thread (where
        # the reload watcher receives the error) raises instead of freeing.
        engine = regorus.Engine()
        error: str | None = None
        try:
            for path, source in sorted(bundle.modules.items()):
                if not include_tests and path.endswith("_test.rego"):
                    continue
                engine.add_policy(path, source)
            engine.add_data_json(bundle.data_json)
        except Exception as exc:
            error = scrub_engine_message(str(exc))
        if error is not None:
            del engine
            raise PolicyCompileError(error)
        policy = RegorusPolicy(bundle, engine, entrypoints)
        del engine
        # regorus analyses modules lazily, at the first evaluation: force it now so that
        # an unsafe variable or a conflicting constant fails the compile step, not a request.
        for path in entrypoints:
            try:
                policy.evaluate_json(path, "{}")
            except PolicyEvalError as exc:
                error = str(exc)
            if error is not None:
                policy.close()
                del policy
                raise PolicyCompileError(error)
        return policy
