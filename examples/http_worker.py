"""A small reference worker for Oris's /v1/workers endpoints.

It polls for an attempt, keeps its lease alive, reports steps, runs a handler and
acknowledges the outcome, the loop the reference's worker example follows::

    python examples/http_worker.py --server http://127.0.0.1:8080 \\
        --api-key-id worker-1 --api-key oris_... --worker-id w1

The handler receives the job (thread id, graph, input) and returns ``completed``,
``failed`` or ``cancelled``; failures are retried by the server with ``--retries``.
Only the standard library and httpx are used; nothing here imports Django.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

logger = logging.getLogger("oris.http_worker")

Handler = Callable[[dict[str, Any], Callable[[str, str], None]], str]


def echo_handler(job: dict[str, Any], report: Callable[[str, str], None]) -> str:
    """The default work: report one step, succeed."""
    report("echo", "succeeded")
    return "completed"


class HttpWorker:
    """Poll → heartbeat (in the background) → report-step → ack."""

    def __init__(
        self,
        client: httpx.Client,
        worker_id: str,
        handler: Handler = echo_handler,
        *,
        lease_ttl_seconds: int = 30,
        max_active_leases: int = 1,
        retry_policy: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.worker_id = worker_id
        self.handler = handler
        self.lease_ttl_seconds = lease_ttl_seconds
        self.max_active_leases = max_active_leases
        self.retry_policy = retry_policy

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body)
        payload = response.json()
        if response.status_code != 200:
            error = payload.get("error", {})
            raise RuntimeError(
                f"{path}: {response.status_code} {error.get('code')}: "
                f"{error.get('message')}"
            )
        return payload["data"]

    def run_once(self) -> str:
        """One poll; runs the dispatched attempt if any. Returns the decision or
        the acknowledged status."""
        poll = self._post(
            "/v1/workers/poll",
            {
                "worker_id": self.worker_id,
                "max_active_leases": self.max_active_leases,
            },
        )
        if poll["decision"] != "dispatched":
            return poll["decision"]
        attempt_id, lease_id = poll["attempt_id"], poll["lease_id"]
        stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(lease_id, stop), daemon=True
        )
        beat.start()

        def report(action_id: str, status: str) -> None:
            self._post(
                f"/v1/workers/{self.worker_id}/report-step",
                {
                    "attempt_id": attempt_id,
                    "action_id": action_id,
                    "status": status,
                    "dedupe_token": f"{attempt_id}:{action_id}:{status}",
                },
            )

        try:
            status = self.handler(poll, report)
        except Exception:
            logger.exception("handler failed for %s", attempt_id)
            status = "failed"
        finally:
            stop.set()
            beat.join()
        ack = {"attempt_id": attempt_id, "terminal_status": status}
        if self.retry_policy:
            ack["retry_policy"] = self.retry_policy
        return self._post(f"/v1/workers/{self.worker_id}/ack", ack)["status"]

    def _heartbeat(self, lease_id: str, stop: threading.Event) -> None:
        interval = max(1.0, self.lease_ttl_seconds / 3)
        while not stop.wait(interval):
            try:
                self._post(
                    f"/v1/workers/{self.worker_id}/heartbeat",
                    {
                        "lease_id": lease_id,
                        "lease_ttl_seconds": self.lease_ttl_seconds,
                    },
                )
            except RuntimeError as exc:
                logger.warning("heartbeat failed: %s", exc)
                return

    def run_forever(self, poll_interval: float) -> None:
        while True:
            decision = self.run_once()
            if decision in ("noop", "backpressure"):
                time.sleep(poll_interval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server", default=os.environ.get("ORIS_SERVER_URL", "http://127.0.0.1:8080")
    )
    parser.add_argument(
        "--worker-id",
        default=os.environ.get("ORIS_WORKER_ID", f"http-{uuid.uuid4().hex[:8]}"),
    )
    parser.add_argument("--api-key-id", default=os.environ.get("ORIS_API_KEY_ID"))
    parser.add_argument("--api-key", default=os.environ.get("ORIS_API_KEY"))
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=float(os.environ.get("ORIS_POLL_INTERVAL_SECONDS", "2")),
    )
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args()
    headers = {}
    if args.api_key:
        headers["x-api-key"] = args.api_key
    if args.api_key_id:
        headers["x-api-key-id"] = args.api_key_id
    logging.basicConfig(level=logging.INFO)
    with httpx.Client(base_url=args.server, headers=headers, timeout=30) as client:
        worker = HttpWorker(client, args.worker_id)
        if args.once:
            print(worker.run_once())
        else:
            worker.run_forever(args.poll_interval)


if __name__ == "__main__":
    main()
