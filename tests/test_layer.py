"""The layer `sam build` makes ships bytecode for every module: Lambda's code filesystem is
read-only, so a module without it is compiled again on every cold start (bench/, README
"Performance"). The recipe (shared/Makefile) is run here as sam build runs it, for this
machine's platform (the deployed arm64 wheels differ only in their binaries)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from bench import plan

ROOT = Path(__file__).resolve().parent.parent
# PEP 552: bit 0 of the flags says hash-based, bit 1 says "check the source": unchecked-hash is 0b01.
UNCHECKED_HASH = 0b01


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifacts = tmp_path_factory.mktemp("SharedLayer")
    plan.build_layer(artifacts)
    return artifacts / "python"


def test_every_module_of_the_layer_has_bytecode_used_without_its_source(layer: Path) -> None:
    sources = sorted(p for p in layer.rglob("*.py") if p.is_file())
    assert len(sources) > 300, "the layer's dependencies and the gateway's package"
    assert (layer / "talon_gateway" / "api" / "app.py") in sources

    missing, checked, stale = [], [], []
    for source in sources:
        cached = Path(importlib.util.cache_from_source(str(source)))
        if not cached.is_file():
            missing.append(source.relative_to(layer))
            continue
        header = cached.read_bytes()[:16]
        if header[:4] != importlib.util.MAGIC_NUMBER:
            stale.append(source.relative_to(layer))
        elif int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
            checked.append(source.relative_to(layer))
    assert missing == [], f"modules without bytecode: {missing[:10]}"
    assert stale == [], f"bytecode of another Python than the runtime's 3.13: {stale[:10]}"
    assert checked == [], f"bytecode checked against its source on import: {checked[:10]}"


def test_the_layer_holds_only_bytecode_its_recipe_compiled(layer: Path) -> None:
    # Nothing copied from a development tree (another interpreter's, or timestamp-checked).
    tag = sys.implementation.cache_tag
    foreign = [p for p in layer.rglob("*.pyc") if not p.name.endswith(f".{tag}.pyc")]
    assert foreign == []
    optimised = [p for p in layer.rglob("*.pyc") if ".opt-" in p.name]
    assert optimised == [], "Lambda runs without -O: optimised bytecode would be dead weight"
