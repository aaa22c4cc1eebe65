"""One measurement in a fresh interpreter, the way Lambda runs a function.

    python -S -I bench/probe.py cold|warm <variant> <function> [invocations] [cart items]

variants: gateway (secrets through the Lambda extension), gateway-sdk (secrets through boto3),
naive (baseline b: eager imports), floor (baseline a: standard library only, v2 only).
sys.path is what Lambda gives: the function's folder, the layer (.bench/layer, built from
shared/requirements.txt, plus shared/), the runtime's boto3 (.bench/runtime). Talon.One, the
secrets extension and Secrets Manager answer in-process (bench/fakes.py); DynamoDB is an
in-memory persistence layer (bench/inmemory.py). Prints one JSON line.
"""

import time

T0 = time.perf_counter()

import json
import os
import sys
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODE, VARIANT, FUNCTION = sys.argv[1:4]
INVOCATIONS = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
CART_ITEMS = int(sys.argv[5]) if len(sys.argv) > 5 else 2
TOKEN = "bench-bearer-token"  # noqa: S105 - a benchmark's own credential
SECRETS: dict[str, dict[str, object]] = {
    "bench/talon": {"apiKey": "bench-api-key", "applicationId": "42", "applicationKey": "a1b2c3d4" * 8},
    "bench/inbound": {"webhookSecrets": [], "bearerTokens": [TOKEN]},
}

sys.path[:0] = [
    os.path.join(ROOT, "functions", FUNCTION),
    os.path.join(ROOT, "shared"),
    os.path.join(ROOT, ".bench", "layer"),
    os.path.join(ROOT, ".bench", "runtime"),
    ROOT,
]
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "TALON_BASE_URL": "https://mycompany.europe-west1.talon.one",
        "TALON_SECRET_ID": "bench/talon",
        "INBOUND_SECRET_ID": "bench/inbound",
        "IDEMPOTENCY_TABLE": "bench-idempotency",
        "POWERTOOLS_SERVICE_NAME": "talon-gateway",
        "POWERTOOLS_METRICS_NAMESPACE": "TalonGateway",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_PARAMETERS_MAX_AGE": "300",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
        "FLOOR_BEARER_TOKEN": TOKEN,
        "FLOOR_API_KEY": "bench-api-key",
    }
)
if VARIANT == "gateway":
    os.environ["SECRETS_EXTENSION_PORT"] = "2773"

# The functions print their logs and metrics to stdout, as in Lambda; the result goes here.
result_out = sys.stdout
sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process

if VARIANT in ("gateway-sdk", "naive"):
    from bench.fakes_boto import answer_secrets

    answer_secrets(SECRETS)

T1 = time.perf_counter()
module = __import__(
    {"naive": "bench.naive", "floor": "bench.floor"}.get(VARIANT, "app"), fromlist=["lambda_handler"]
)
T2 = time.perf_counter()

if VARIANT != "floor":
    from bench.fakes import FakeBackend, FakeNetworkTransport, responder
    from bench.inmemory import InMemoryPersistenceLayer
    from talon_gateway.delivery import idempotency
    from talon_gateway.upstream import transport

    transport.use_transport(FakeNetworkTransport(FakeBackend(responder(SECRETS))))
    idempotency.use_persistence(InMemoryPersistenceLayer())


class Context:
    function_name = FUNCTION
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{FUNCTION}"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def event(key: str | None = None) -> dict[str, Any]:
    with open(os.path.join(ROOT, "events", f"{FUNCTION}.json")) as stream:
        loaded: dict[str, Any] = json.load(stream)
    headers = dict(loaded["headers"], Authorization=f"Bearer {TOKEN}")
    if key is not None:
        headers["Idempotency-Key"] = key
    loaded["headers"] = headers
    loaded["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    if FUNCTION == "update_customer_session_v2":
        items = [
            {
                "name": f"Item {i}",
                "sku": f"SKU-{i:05d}",
                "quantity": 1 + i % 3,
                "price": 9.99 + i,
                "category": "apparel",
                "attributes": {"color": "black", "size": "M"},
            }
            for i in range(CART_ITEMS)
        ]
        session = {"profileId": "customer-1001", "couponCodes": ["SUMMER20"], "cartItems": items}
        loaded["body"] = json.dumps({"customerSession": session, "responseContent": ["customerSession"]})
    return loaded


handler = module.lambda_handler
context = Context()
writes = FUNCTION not in ("get_reserved_coupons", "get_reserved_customers", "get_customer_inventory")
first_event = event()
T3 = time.perf_counter()
first = handler(first_event, context)
T4 = time.perf_counter()
assert 200 <= first["statusCode"] < 300, first

report = {
    "variant": VARIANT,
    "function": FUNCTION,
    "setup_ms": (T1 - T0) * 1000,
    "import_ms": (T2 - T1) * 1000,
    "first_ms": (T4 - T3) * 1000,
}
if MODE == "warm":
    # Keyed writes each get a new key: every invocation runs the idempotency check and stores.
    # Events are built outside the timed part, one at a time (a list of them would count
    # against the peak memory).
    durations = []
    for i in range(INVOCATIONS):
        each = event(f"bench-{i}" if writes and VARIANT != "floor" else None)
        started = time.perf_counter_ns()
        answer = handler(each, context)
        durations.append(time.perf_counter_ns() - started)
        assert 200 <= answer["statusCode"] < 300, answer
    durations.sort()
    import resource

    report |= {
        "invocations": INVOCATIONS,
        "p50_ms": durations[len(durations) // 2] / 1e6,
        "p99_ms": durations[int(len(durations) * 0.99)] / 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
print(json.dumps(report), file=result_out)
