"""Loading a function's handler the way Lambda does: its CodeUri folder, the layer on sys.path."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local_gateway.template import ROOT, FunctionSpec

LAYER = ROOT / "shared"  # /opt/python in Lambda

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def ensure_layer_on_path() -> None:
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))


def load_module(code_uri: Path, module: str = "app") -> ModuleType:
    """Import ``<code_uri>/<module>.py`` under a name unique to its folder (all are app.py)."""
    ensure_layer_on_path()
    name = f"fn_{code_uri.name}_{module}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, code_uri / f"{module}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {code_uri / module}.py")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    spec.loader.exec_module(loaded)
    return loaded


def load_handler(spec: FunctionSpec) -> Handler:
    module_name, _, attribute = spec.handler.rpartition(".")
    handler: Handler = getattr(load_module(spec.code_uri, module_name), attribute)
    return handler


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as context, enough for Powertools and the deadline."""

    function_name: str = "local"
    timeout_s: float = 30.0
    # Lambda's own variable, which the local runner sets from template.yaml's MemorySize
    memory_limit_in_mb: int = field(
        default_factory=lambda: int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"))
    )
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._started + self.timeout_s - time.monotonic()) * 1000))
