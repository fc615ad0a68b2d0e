"""runtime/logs.py: log lines carry the request, thread, attempt, worker and trace
ids; ``ORIS_LOG_FORMAT=json`` writes one JSON object per line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from runtime.logs import FIELDS, ContextFilter, JsonFormatter, LineFormatter
from runtime.models import Job
from tests.runtime.api.conftest import keyed_client
from tests.runtime.test_crash_recovery import in_worker

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def api_log() -> Iterator[io.StringIO]:
    """The ``runtime.api`` logger's lines, in the JSON format."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("runtime.api")
    logger.addHandler(handler)
    yield out
    logger.removeHandler(handler)


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run(client, **body):
    return client.post(
        "/v1/jobs/run",
        body,
        format="json",
        HTTP_TRACEPARENT=TRACEPARENT,
        HTTP_X_REQUEST_ID="req-42",
    )


@pytest.mark.django_db
def test_a_request_log_line_has_its_request_and_trace_ids(api_log) -> None:
    assert run(keyed_client("operator", "bob"), thread_id="l1").status_code == 200
    (entry,) = [
        e for e in lines(api_log.getvalue()) if "execution_api_request" in e["message"]
    ]
    assert set(FIELDS) <= entry.keys()
    assert entry["request_id"] == "req-42"
    assert entry["trace_id"] == TRACE_ID  # tracing off: the caller's trace id
    assert entry["span_id"] is None
    assert entry["attempt_id"] is None
    assert (entry["level"], entry["logger"]) == ("INFO", "runtime.api")


@pytest.mark.django_db
def test_while_tracing_a_log_line_names_the_request_span(api_log, spans) -> None:
    assert run(keyed_client("operator", "bob"), thread_id="l2").status_code == 200
    (entry,) = [
        e for e in lines(api_log.getvalue()) if "execution_api_request" in e["message"]
    ]
    (request,) = spans.get_finished_spans()
    assert entry["trace_id"] == TRACE_ID
    assert entry["span_id"] == format(request.context.span_id, "016x")


@pytest.mark.django_db(transaction=True)
def test_a_worker_logs_one_json_object_per_line() -> None:
    client = keyed_client("operator", "bob")
    assert run(client, thread_id="ok", graph="chain").status_code == 200
    assert run(client, thread_id="bad", graph="flaky").status_code == 200
    ran = in_worker(
        "from runtime.worker.drain import worker_drain; "
        "worker_drain(worker_id='w-json')",
        env={"ORIS_LOG_FORMAT": "json", "ORIS_TEST_FLAKY_FAILURES": "9"},
    )
    assert ran.returncode == 0, ran.stderr
    entries = lines(ran.stderr)  # every line is one JSON object
    ok = Job.objects.get(thread_id="ok")
    attempts = {j.thread_id: str(j.attempts.get().pk) for j in Job.objects.all()}
    assert ok.status == Job.Status.COMPLETED

    (done,) = [e for e in entries if e["message"].startswith("attempt_run")]
    assert done["thread_id"] == "ok"
    assert done["attempt_id"] == attempts["ok"]
    assert done["worker_id"] == "w-json"
    assert done["trace_id"] == TRACE_ID
    (failed,) = [e for e in entries if e["level"] == "ERROR"]
    assert failed["thread_id"] == "bad"
    assert failed["attempt_id"] == attempts["bad"]
    assert failed["trace_id"] == TRACE_ID
    assert "RuntimeError: flaky failure #1" in failed["exception"]


def test_the_text_format_appends_the_bound_ids() -> None:
    from runtime.logs import bound

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(ContextFilter())
    handler.setFormatter(LineFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with bound(thread_id="t1", attempt_id="a1"):
            logger.warning("inside")
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert out.getvalue().splitlines() == [
        "WARNING inside [thread_id=t1 attempt_id=a1]",
        "WARNING outside",
    ]
