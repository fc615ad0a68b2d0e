"""The console on a 1366×850 laptop, in Debian's chromium: lists fit without
horizontal scrolling, the demo is approved with its prefilled form, the run page
follows a slow run by itself, a run is started from the browser. Screenshots of
the main pages are saved under ``var/screenshots/`` (gitignored) for review."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.models import Job
from tests.runtime.admin.conftest import dead_letter, drain, interrupted, make_user
from tests.runtime.admin.test_console_browser import browser, log_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 1366, 850
SHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"


@pytest.fixture
def laptop(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def fits(page: Any) -> None:
    """The page needs no horizontal scrolling at laptop width."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} is {width} px wide"


def visible(page: Any, selector: str) -> None:
    """The element is on screen, horizontally: its right edge inside the window."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    assert box["width"] > 40, f"{selector} is squeezed to {box['width']} px"
    assert box["x"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= WIDTH, (selector, box)


def test_the_lists_fit_a_laptop(laptop: Any, live_server: Any) -> None:
    make_user("alice", "oris-admin")
    interrupted("tool_review")
    interrupted("assistant", input={"messages": "please compute (17 + 25) * 3"})
    interrupted(input={"topic": "durable execution for agents " * 4})
    dead_letter("boom")
    log_in(laptop, live_server.url, "alice")

    laptop.goto(f"{live_server.url}/admin/runtime/interrupt/")
    visible(laptop, "#result_list td.field-summary .oris-summary")
    visible(laptop, "#result_list th.field-request .oris-title")
    summary = laptop.locator("#result_list .oris-summary").last
    assert "write_file(path=" in summary.get_attribute("title")
    fits(laptop)
    shoot(laptop, "inbox")

    laptop.goto(f"{live_server.url}/admin/runtime/deadletter/")
    visible(laptop, "#result_list td.field-error_message")
    assert "boom: the tool server is down" in laptop.inner_text("#result_list")
    fits(laptop)
    shoot(laptop, "dead-letters")

    for name in ("job", "auditlog", "apikey", "workercluster"):
        laptop.goto(f"{live_server.url}/admin/runtime/{name}/")
        fits(laptop)
        shoot(laptop, f"list-{name}")
    laptop.goto(f"{live_server.url}/admin/")
    fits(laptop)
    shoot(laptop, "index")


def test_the_demo_is_approved_with_its_prefilled_form(
    laptop: Any, live_server: Any
) -> None:
    make_user("bob", "oris-operator")
    pending = interrupted(input={"topic": "oris"})
    log_in(laptop, live_server.url, "bob")
    laptop.goto(f"{live_server.url}/admin/runtime/interrupt/{pending.pk}/change/")
    fits(laptop)
    assert laptop.is_checked("#id_answer_approved")  # the schema form's default
    shoot(laptop, "interrupt-approval")
    laptop.click("text=Resume with a JSON value")
    prefilled = json.loads(laptop.input_value("#id_value"))
    assert prefilled == {"approved": True, "feedback": ""}  # never the request
    laptop.click("input[name=_approve_value]")
    message = laptop.inner_text(".messagelist")
    assert 'sent {"approved": true, "feedback": ""}' in message

    drain()
    job = Job.objects.get(pk=pending.job_id)
    assert job.status == Job.Status.COMPLETED
    assert job.result["approved"] is True
    assert job.result["published"].startswith("Draft on oris")


def test_a_tool_approval_shows_its_conversation(laptop: Any, live_server: Any) -> None:
    make_user("bob", "oris-operator")
    pending = interrupted("assistant", input={"messages": "what is 6 * 7?"})
    log_in(laptop, live_server.url, "bob")
    laptop.goto(f"{live_server.url}/admin/runtime/interrupt/{pending.pk}/change/")
    chat = laptop.locator("#conversation li.oris-msg")
    assert chat.count() == 4
    assert "what is 6 * 7?" in chat.nth(0).inner_text()
    assert "42" in chat.nth(2).inner_text()
    visible(laptop, "#conversation li.oris-msg-human")
    fits(laptop)
    shoot(laptop, "interrupt-tool-approval")
    laptop.goto(f"{live_server.url}/admin/runtime/job/{pending.job_id}/change/")
    fits(laptop)
    shoot(laptop, "run-interrupted")


def test_the_run_page_follows_a_slow_run_by_itself(
    laptop: Any, live_server: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("ORIS_TEST_WALK_SECONDS", "1.5")
    make_user("bob", "oris-operator")
    from tests.factories import make_job

    job = make_job("walk")
    log_in(laptop, live_server.url, "bob")
    laptop.goto(f"{live_server.url}/admin/runtime/job/{job.pk}/change/")
    assert laptop.inner_text("#job-status") == "queued"
    laptop.evaluate("window.orisMarker = 'no reload'")

    worker = threading.Thread(target=drain)
    worker.start()
    try:
        laptop.wait_for_selector("tr.oris-node-running[data-node='first']")
        laptop.wait_for_selector("tr.oris-node-done[data-node='first']")
        laptop.wait_for_selector("tr.oris-node-running[data-node='second']")
        shoot(laptop, "run-live")
        laptop.wait_for_selector("tr.oris-node-done[data-node='second']")
        laptop.wait_for_selector("#job-status.oris-status-completed")
    finally:
        worker.join()
    assert laptop.evaluate("window.orisMarker") == "no reload"
    done = laptop.locator("tr.oris-node-done")
    assert done.count() == 3
    assert "s" in done.nth(0).locator("td").nth(5).inner_text()  # a duration
    laptop.wait_for_selector("#graph-diagram svg g.node.done")
    fits(laptop)
    shoot(laptop, "run-completed")


def test_a_run_is_started_from_the_console(laptop: Any, live_server: Any) -> None:
    make_user("bob", "oris-operator")
    log_in(laptop, live_server.url, "bob")
    laptop.goto(f"{live_server.url}/admin/runtime/job/")
    laptop.click("#start-run")
    laptop.wait_for_load_state()
    laptop.select_option("#id_graph", "echo")
    laptop.wait_for_selector("#schema-approval", state="hidden")
    laptop.select_option("#id_graph", "approval")
    laptop.wait_for_selector("#schema-echo", state="hidden")
    assert laptop.is_visible("#schema-approval")
    laptop.fill("#id_input", json.dumps({"topic": 42}))
    laptop.click("input[name=_start]")
    assert "input.topic: must be a string" in laptop.inner_text("#start-form")
    shoot(laptop, "start-run-refused")
    laptop.fill("#id_input", json.dumps({"topic": "started in the browser"}))
    laptop.fill("#id_thread_id", "browser-run")
    laptop.fill("#id_priority", "5")
    laptop.click("input[name=_start]")
    assert "Started run browser-run" in laptop.inner_text(".messagelist")
    job = Job.objects.get(thread_id="browser-run")
    assert (job.priority, job.input) == (5, {"topic": "started in the browser"})

    drain()
    laptop.wait_for_selector("#job-status.oris-status-interrupted")
    assert laptop.is_visible("#pending-interrupt")
    fits(laptop)
