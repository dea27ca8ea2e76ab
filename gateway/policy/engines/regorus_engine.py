"""regorus (Rust) through ``gordon-to-regorus``: the default embedded engine.

A ``regorus.Engine`` is a pyo3 ``unsendable`` class: touching it from a thread
other than the one that made it raises ``PanicException``, a BaseException
that ``except Exception`` does not catch, and freeing it there raises too (the
engine is then leaked). So a compiled policy remembers its owner thread and
refuses (with a normal PolicyEvalError) to be used anywhere else; the plugin
evaluates on the event-loop thread only, and the reload watcher compiles
throw-away validation copies inside its worker thread.

Engines live in ``_STORE``, not in the policy objects: when a policy object is
released on a foreign thread (the garbage collector runs wherever it runs),
its engine is queued and freed the next time its owner thread uses any engine.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import regorus

from gateway.policy.bundle import Bundle
from gateway.policy.engines.base import UNDEFINED, CompiledPolicy, Engine, rule_path
from gateway.policy.errors import PolicyCompileError, PolicyEvalError, scrub_engine_message


class _EngineStore:
    """Engines by key, always freed on the thread that created them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engines: dict[int, Any] = {}
        self._owner: dict[int, int] = {}
        self._pending: dict[int, list[int]] = {}
        self._keys = itertools.count(1)

    def put(self, engine: Any) -> int:
        key = next(self._keys)
        with self._lock:
            self._engines[key] = engine
            self._owner[key] = threading.get_ident()
        return key

    def get(self, key: int) -> Any:
        if self._pending:
            self._reap()
        return self._engines[key]

    def release(self, key: int) -> None:
        """Free now if called on the owner thread, else queue for the owner (any thread may call)."""
        tid = threading.get_ident()
        with self._lock:
            owner = self._owner.get(key)
            if owner is None:
                return
            if owner != tid:
                self._pending.setdefault(owner, []).append(key)
                return
            del self._owner[key]
            engine = self._engines.pop(key)
        del engine  # the last reference, dropped on the owner thread

    def _reap(self) -> None:
        tid = threading.get_ident()
        with self._lock:
            keys = self._pending.pop(tid, [])
            doomed = [self._engines.pop(k) for k in keys]
            for k in keys:
                self._owner.pop(k, None)
        del doomed

    def __len__(self) -> int:
        return len(self._engines)


_STORE = _EngineStore()


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
        self._key: int | None = _STORE.put(engine)
        self._owner = threading.get_ident()
        self._entrypoints = {p: rule_path(p) for p in entrypoints}

    @property
    def _engine(self) -> Any:
        if self._key is None:
            raise PolicyEvalError("this compiled policy was closed")
        return _STORE.get(self._key)

    def __del__(self) -> None:
        key = getattr(self, "_key", None)
        if key is not None:
            _STORE.release(key)

    def _check_thread(self) -> None:
        if threading.get_ident() != self._owner:
            raise PolicyEvalError("regorus engine used from a thread other than the one that compiled it")

    # Errors are turned into PolicyEvalError *after* the except blocks: raising inside one
    # chains the exceptions into a frame <-> traceback cycle that keeps this frame (and the
    # engine it references) alive until the garbage collector runs, possibly on another
    # thread, where a regorus engine cannot be freed.

    def evaluate_json(self, path: str, input_json: str | None) -> Any:
        self._check_thread()
        rule = self._entrypoints.get(path) or rule_path(path)
        error: str | None = None
        value: Any = None
        query_instead = False
        try:
            self._engine.set_input_json("{}" if input_json is None else input_json)
            value = self._engine.eval_rule(rule)
        except Exception as exc:
            # A package, a data document or nothing: fall back to a query (OPA Data API semantics).
            query_instead = "not a valid rule path" in str(exc)
            error = None if query_instead else scrub_engine_message(str(exc))
        except BaseException as exc:
            if not _is_panic(exc):
                raise
            error = "regorus panicked: " + scrub_engine_message(str(exc))
        if query_instead:
            try:
                return self._query(rule)
            except Exception as exc:
                error = scrub_engine_message(str(exc))
        if error is not None:
            raise PolicyEvalError(error)
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
        error: str | None = None
        value: Any = None
        try:
            value = engine.eval_rule(f"data.{package}.{rule}")
        except Exception as exc:
            if "not a valid rule path" not in str(exc):  # otherwise: no such test rule, a failure
                error = scrub_engine_message(str(exc))
        except BaseException as exc:
            if not _is_panic(exc):
                raise
            error = "regorus panicked: " + scrub_engine_message(str(exc))
        del engine
        if error is not None:
            raise PolicyEvalError(error)
        return value is True

    def close(self) -> None:
        if self._key is not None:
            _STORE.release(self._key)
            self._key = None


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
