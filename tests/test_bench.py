"""The benchmark measures what is deployed: its environment is template.yaml's, its fakes answer
what the gateway sends, and a probe serves a function end to end. No timings are asserted."""

from __future__ import annotations

import socket
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import host, plan
from bench.__main__ import Probe, Runner

ROOT = Path(__file__).resolve().parent.parent


class _CloudFormation(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !If ...) read as plain values."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_CloudFormation.add_multi_constructor("!", _tagged)


def test_the_bench_environment_is_the_templates() -> None:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CloudFormation)
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    # Every variable the deployed functions get, the bench's functions get (or it is unset by default)
    assert set(variables) - plan.UNSET_BY_DEFAULT <= set(plan.template_environment())


def test_the_fakes_answer_talon_one_and_aws() -> None:
    assert host.talon(b"PUT /v2/customer_sessions/c HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 200 OK")
    assert host.talon(b"DELETE /v1/coupon_reservations/c HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 204")
    fake = host.Host(plan.secrets())
    item = {"pk": {"S": "delivery#1"}, "sk": {"S": "-"}, "state": {"S": "queued"}}
    assert fake.aws("DynamoDB_20120810.PutItem", {"TableName": "t", "Item": item}) == {}
    key = {"pk": {"S": "delivery#1"}, "sk": {"S": "-"}}
    assert fake.aws("DynamoDB_20120810.GetItem", {"TableName": "t", "Key": key}) == {"Item": item}
    answer = fake.aws("secretsmanager.GetSecretValue", {"SecretId": "bench/talon"})
    assert "bench-api-key" in str(answer["SecretString"])


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """Probes on the source tree (the development environment's packages as the layer and
    the runtime): the harness end to end, in a few seconds."""
    functions = tmp_path_factory.mktemp("functions")
    for function in ("update_customer_session_v2", "get_customer_inventory"):
        (functions / function).mkdir()
        (functions / function / "app.py").write_text((ROOT / "functions" / function / "app.py").read_text())
    packages = Path(sysconfig.get_paths()["purelib"])
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    yield Runner(
        sink.getsockname()[1], 3, functions=functions, layer=(ROOT / "shared", packages), runtime=packages
    )
    sink.close()


@pytest.mark.parametrize("keyed", [False, True])
def test_a_cold_probe_serves_the_deployed_configuration(runner: Runner, keyed: bool) -> None:
    event = plan.api_event("update_customer_session_v2", 3, key="k" if keyed else None)
    report = runner.run(Probe("update_customer_session_v2", "cold", first=event))
    calls = report["calls"]
    # Both secrets through the extension; a keyed write through DynamoDB (the real layer, via botocore)
    assert calls["extension"] == 2
    assert ("DynamoDB_20120810.PutItem" in calls) is keyed
    assert report["first_ms"] > 0
    # The response models never load in a function; botocore only for the keyed write
    assert report["loaded"] == (["botocore.client"] if keyed else [])


def test_a_warm_probe_and_a_restored_snapshot(runner: Runner) -> None:
    function = "get_customer_inventory"
    warm = runner.run(
        Probe(
            function,
            "warm",
            first=plan.api_event(function, 3),
            warm=plan.api_event(function, 3),
            invocations=5,
        )
    )
    assert warm["p50_ms"] > 0
    restored = runner.run(Probe(function, "snapstart", first=plan.api_event(function, 3)))
    # The runtime's two hooks ran; the restored copy read the secrets again
    assert restored["hooks"] == 2
    assert restored["calls"]["extension"] == 2
