"""One measurement in a fresh interpreter, the way Lambda runs a function.

    python -S -I -B bench/probe.py <plan.marshal>

The plan (written by bench/__main__.py, read with marshal: a built-in module, so the probe
imports nothing the handler could need before its timer) gives sys.path as Lambda's (the
function's folder, the layer, the runtime's boto3; the environment comes with the process),
the module to import, the events and what to measure:

- ``cold``: import the handler and serve the first event (unkeyed or keyed);
- ``warm``: then ``invocations`` more, each timed, each write with a new idempotency key;
- ``snapstart``: import, run the runtime's before-snapshot hooks (priming), the after-restore
  hooks, then serve the first event (a simulated restore: the same process, memory as the
  snapshot holds it);
- ``worker``: the delivery worker, batches of queued deliveries.

The network is answered in-process (bench/host.py, installed as post-import hooks).
The report is written with marshal to the plan's ``out``.
"""

import time

T0 = time.perf_counter()

import marshal
import sys

with open(sys.argv[1], "rb") as stream:
    PLAN = marshal.load(stream)  # noqa: S302 - written by bench/__main__.py for this run
sys.path[:0] = PLAN["path"]
sys.path.append(PLAN["bench"])
# The functions print their logs, metrics and traces' errors to stdout, as in Lambda.
sys.stdout = open(PLAN["out"] + ".stdout", "w")  # noqa: SIM115 - lives as long as the process
sys.stderr = open(PLAN["out"] + ".stderr", "w")  # noqa: SIM115

HOOKS: dict[str, list[object]] = {"before": [], "after": []}
if PLAN["mode"] == "snapstart":
    # The Lambda runtime's SnapStart module, as the runtime provides it.
    runtime = type(sys)("snapshot_restore_py")
    runtime.register_before_snapshot = HOOKS["before"].append  # type: ignore[attr-defined]
    runtime.register_after_restore = HOOKS["after"].append  # type: ignore[attr-defined]
    sys.modules["snapshot_restore_py"] = runtime

import host  # type: ignore[import-not-found]

HOST = host.Host(PLAN["secrets"])
if PLAN.get("seed"):
    HOST.seed = PLAN["seed"]
HOST.install()


class Context:
    function_name = PLAN["function"]
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{PLAN['function']}"
    aws_request_id = "bench"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def trace_header(number: int) -> None:
    """The trace header the runtime sets before each invocation (outside the handler).

    Sampled as X-Ray's default rule samples a busy function: the first request (the cold one,
    set in the process's environment: os is not loaded before the handler is) and 5% of the
    rest; unsampled requests still run the SDK (its segments are dummies, never sent).
    """
    if PLAN["tracing"] and number > 0:
        sampled = 1 if number % PLAN["sample_every"] == 0 else 0
        sys.modules["os"].environ["_X_AMZN_TRACE_ID"] = (
            f"Root=1-67890abc-{number:024x};Parent={number:016x};Sampled={sampled}"
        )


def with_key(event: dict[str, object], key: str) -> dict[str, object]:
    headers = dict(event["headers"], **{"Idempotency-Key": key})  # type: ignore[call-overload]
    multi = dict(event["multiValueHeaders"], **{"Idempotency-Key": [key]})  # type: ignore[call-overload]
    return dict(event, headers=headers, multiValueHeaders=multi)


def sqs_batch(template: dict[str, object], number: int, size: int) -> dict[str, object]:
    records = []
    for i in range(size):
        record = dict(template)
        record["messageId"] = f"{number:08d}-{i:04d}"
        record["body"] = '{"deliveryId": "dlv_bench%08x%024x"}' % (number, i)  # noqa: UP031 - no imports
        records.append(record)
    return {"Records": records}


WORKER = PLAN["batch"] > 0 and PLAN["seed"] is not None


def ok(answer: dict[str, object]) -> bool:
    if WORKER:
        return answer.get("batchItemFailures") == []
    status = answer["statusCode"]
    return isinstance(status, int) and 200 <= status < 300


context = Context()
report: dict[str, object] = {"setup_ms": (time.perf_counter() - T0) * 1000}
first_event = PLAN["first"]
if WORKER:
    first_event = sqs_batch(PLAN["first"], 0, PLAN["batch"])
trace_header(0)

PROFILER = None
if PLAN.get("profile") and PLAN["mode"] == "cold":
    # pyinstrument from the development environment: a profile, not a measurement.
    sys.path.append(PLAN["profile"])
    from pyinstrument import Profiler

    PROFILER = Profiler(interval=0.0005)
    PROFILER.start()

C1, T1 = time.process_time(), time.perf_counter()
module = __import__(PLAN["module"], fromlist=["lambda_handler"])
T2, C2 = time.perf_counter(), time.process_time()
report["import_ms"] = (T2 - T1) * 1000
# CPU time beside wall time: on a shared machine, A/B comparisons read this one.
report["import_cpu_ms"] = (C2 - C1) * 1000
handler = module.lambda_handler

if PLAN["mode"] == "snapstart":
    started = time.perf_counter()
    for hook in HOOKS["before"]:
        hook()  # type: ignore[operator]
    report["prime_ms"] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    for hook in HOOKS["after"]:
        hook()  # type: ignore[operator]
    report["restore_ms"] = (time.perf_counter() - started) * 1000
    report["hooks"] = len(HOOKS["before"]) + len(HOOKS["after"])

if PLAN.get("profile") and PLAN["mode"] == "snapstart":
    sys.path.append(PLAN["profile"])
    from pyinstrument import Profiler

    PROFILER = Profiler(interval=0.0002)
    PROFILER.start()
C3, T3 = time.process_time(), time.perf_counter()
first = handler(first_event, context)
T4, C4 = time.perf_counter(), time.process_time()
report["first_ms"] = (T4 - T3) * 1000
report["first_cpu_ms"] = (C4 - C3) * 1000
assert ok(first), first
if PROFILER is not None:
    PROFILER.stop()
    with open(PLAN["out"] + ".profile", "w") as text:
        text.write(PROFILER.output_text(unicode=False, color=False, show_all=False))
if PLAN.get("second") is not None:
    # A second first call: the other kind (a keyed write after an unkeyed one, or an
    # asynchronous accept), the cost of what it alone loads and builds.
    trace_header(1)
    T5 = time.perf_counter()
    second = handler(PLAN["second"], context)
    report["second_ms"] = (time.perf_counter() - T5) * 1000
    assert ok(second), second

if PLAN["mode"] in ("warm", "worker"):
    if PLAN.get("in_memory"):
        # The bench configuration: DynamoDB replaced by Powertools' persistence API in a dict.
        from inmemory import InMemoryPersistenceLayer  # type: ignore[import-not-found]

        from talon_gateway.delivery import idempotency

        idempotency.use_persistence(InMemoryPersistenceLayer())
    keyed = PLAN["keyed"]
    template = PLAN["warm"]
    durations, cpu = [], []
    if PLAN.get("profile"):
        sys.path.append(PLAN["profile"])
        from pyinstrument import Profiler

        PROFILER = Profiler(interval=0.0002)
        PROFILER.start()
    for i in range(PLAN["invocations"]):
        # Events are built outside the timed part, one at a time (a list of them would count
        # against the peak memory).
        if WORKER:
            each = sqs_batch(template, i + 1, PLAN["batch"])
        else:
            each = with_key(template, f"bench-{i}") if keyed else template
        trace_header(i + 2)
        started_ns, cpu_ns = time.perf_counter_ns(), time.process_time_ns()
        answer = handler(each, context)
        durations.append(time.perf_counter_ns() - started_ns)
        cpu.append(time.process_time_ns() - cpu_ns)
        assert ok(answer), answer
    if PROFILER is not None:
        PROFILER.stop()
        with open(PLAN["out"] + ".profile", "w") as text:
            text.write(PROFILER.output_text(unicode=False, color=False, show_all=False))
    durations.sort()
    cpu.sort()
    import resource

    report |= {
        "p50_ms": durations[len(durations) // 2] / 1e6,
        "p99_ms": durations[int(len(durations) * 0.99)] / 1e6,
        "p50_cpu_ms": cpu[len(cpu) // 2] / 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
report["modules"] = len(sys.modules)
# Of the modules the plan watches (the response models, botocore), those loaded.
report["loaded"] = [name for name in PLAN.get("watch", ()) if name in sys.modules]
report["calls"] = HOST.calls
with open(PLAN["out"], "wb") as output:
    marshal.dump(report, output)
