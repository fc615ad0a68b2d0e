"""An approval policy in the browser (Debian chromium at 1366x850): a quorum of
two needs two different users, each logged in to the console."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from graphs import InterruptPolicy
from runtime.models import Interrupt, Job
from tests.runtime.admin.conftest import drain, make_user
from tests.runtime.admin.test_console_browser import browser, log_in
from tests.runtime.policy_graphs import paused, register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

__all__ = ["browser"]  # the fixture, shared with the console's browser tests

LAPTOP = {"width": 1366, "height": 850}
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


@pytest.fixture(autouse=True)
def _policy_graphs(_console_graphs: None, settings: Any) -> None:
    register(settings)


@pytest.fixture
def laptop(browser: Any) -> Iterator[Any]:
    """A new browser context at laptop size, per user: ``laptop()`` opens a page."""
    contexts = []

    def open_page() -> Any:
        context = browser.new_context(viewport=LAPTOP)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_quorum_of_two_needs_two_different_users(
    laptop: Any, live_server: Any
) -> None:
    make_user("bob", "oris-operator")
    make_user("dave", "oris-operator")
    found = paused(InterruptPolicy(group="oris-operator", quorum=2))
    url = f"{live_server.url}/admin/runtime/interrupt/{found.pk}/change/"

    bob = laptop()
    log_in(bob, live_server.url, "bob")
    bob.goto(f"{live_server.url}/admin/runtime/interrupt/?assigned=my_group")
    assert "0 of 2" in bob.inner_text("#result_list")
    assert "group oris-operator" in bob.inner_text("#result_list")
    screenshot(bob, "policy-inbox")
    bob.click(f"#result_list a[href*='{found.pk}']")
    assert "0 of 2 approvals" in bob.inner_text("#policy-quorum")
    assert bob.locator("#claim-form").count() == 0  # a quorum is voted, not claimed
    bob.click("input[name=_approve]")
    assert "Your approval is recorded (1 of 2)" in bob.inner_text(".messagelist")
    assert bob.inner_text("#interrupt-status") == "pending"
    bob.click("input[name=_approve]")  # bob again: still one approval
    assert "1 of 2 approvals" in bob.inner_text("#policy-quorum")
    assert Job.objects.get(pk=found.job_id).status == Job.Status.INTERRUPTED
    screenshot(bob, "policy-quorum-one-vote")

    dave = laptop()
    log_in(dave, live_server.url, "dave")
    dave.goto(url)
    assert "user:bob" in dave.inner_text("#policy-votes")
    dave.click("input[name=_approve]")
    assert "sent true" in dave.inner_text(".messagelist")
    assert dave.inner_text("#interrupt-status") == "resumed"
    voters = dave.inner_text("#policy-votes")
    assert "user:bob" in voters
    assert "user:dave" in voters
    screenshot(dave, "policy-quorum-decided")

    drain()
    assert Interrupt.objects.get(pk=found.pk).resolved_by == "user:dave"
    assert Job.objects.get(pk=found.job_id).status == Job.Status.COMPLETED
