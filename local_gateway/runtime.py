"""Lambda-like execution environments: a pool of worker processes, one invocation at a time each.

Like Lambda, an environment imports a function's handler once (cold start), keeps its module
state (caches, HTTP pool) between invocations (warm), and never runs two invocations at once;
concurrency comes from more environments. Workers are forked from a forkserver that preloads
the layer, so starting one is cheap.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from local_gateway.functions import LAYER, LambdaContext, ensure_layer_on_path, load_handler
from local_gateway.template import ROOT, FunctionSpec

_PRELOAD = ["local_gateway.preload"]


def _start_environment(environment: Mapping[str, str]) -> None:
    # Ctrl-C reaches the whole process group: the parent stops the pool, the workers need not
    # die mid-wait with a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(environment)
    ensure_layer_on_path()


def _invoke(spec: FunctionSpec, event: dict[str, Any]) -> dict[str, Any]:
    handler = load_handler(spec)
    context = LambdaContext(function_name=spec.logical_id, timeout_s=spec.timeout)
    return handler(event, context)


class Runtime:
    """Invoke template functions in isolated, reusable worker processes."""

    def __init__(self, environment: Mapping[str, str], workers: int = 4) -> None:
        ensure_layer_on_path()
        # The forkserver (started on first use) inherits this environment, not sys.path.
        paths = [str(ROOT), str(LAYER), os.environ.get("PYTHONPATH", "")]
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_start_environment,
            initargs=(dict(environment),),
        )

    def submit(self, spec: FunctionSpec, event: dict[str, Any]) -> Future[dict[str, Any]]:
        return self._pool.submit(_invoke, spec, event)

    def call[T](self, function: Callable[..., T], *args: Any) -> T:
        """Run any picklable function in an environment (tests: its process id, for instance)."""
        return self._pool.submit(function, *args).result()

    def invoke(
        self, spec: FunctionSpec, event: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        return self.submit(spec, event).result(timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
