"""The run page's effects: the ledger's calls, a recorded replay, forks with
overrides, and a run beside its fork (through the same services as the API)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.http import HttpRequest

from runtime.admin.base import actor_for
from runtime.admin.formatting import pretty_json
from runtime.models import Job
from runtime.present import job_comparison, job_effects
from runtime.selectors import effects as effect_selectors
from runtime.services import forks, replays


class ForkForm(forms.Form):
    """A fork's checkpoint and overrides (blank fields override nothing)."""

    checkpoint_id = forms.CharField(widget=forms.HiddenInput)
    model = forms.CharField(required=False, help_text="another model name")
    temperature = forms.FloatField(required=False, min_value=0, max_value=2)
    system_prompt = forms.CharField(required=False, widget=forms.Textarea({"rows": 2}))
    tool_results = forms.CharField(
        required=False,
        help_text='JSON: {"tool name": result}',
        widget=forms.Textarea({"rows": 2}),
    )

    def overrides(self) -> dict[str, Any]:
        data = self.cleaned_data
        found: dict[str, Any] = {}
        for key in ("model", "system_prompt"):
            if data.get(key):
                found[key] = data[key]
        if data.get("temperature") is not None:
            found["temperature"] = data["temperature"]
        if data.get("tool_results"):
            try:
                found["tool_results"] = json.loads(data["tool_results"])
            except json.JSONDecodeError as exc:
                raise forms.ValidationError(f"tool results: {exc}") from None
        return found


def effects_context(job: Job) -> dict[str, Any]:
    """The run page's effects section: the calls, their totals, the forks."""
    data = job_effects(job, effect_selectors.job_effects(job=job))
    return {
        "effects": [
            {
                **e,
                "request_json": pretty_json(e["request"]),
                "response_json": pretty_json(e["response"]),
            }
            for e in data["effects"]
        ],
        "effect_totals": data["totals"],
        "forks": effect_selectors.job_forks(job=job),
        "can_replay_recorded": job.status in replays.REPLAYABLE,
        "can_fork": job.status in forks.FORKABLE,
    }


def replay_recorded(request: HttpRequest, job: Job) -> str:
    """Runs a recorded replay; the line the console reports."""
    report = replays.job_replay_recorded(job=job, actor=actor_for(request))
    line = (
        f"Recorded replay: {report.status} "
        f"({report.effects_answered} of {report.effects_recorded} effects answered)"
    )
    if report.divergence:
        where = report.divergence.get("actual") or report.divergence.get("expected")
        line += f": {report.divergence['reason']}"
        if where:
            call = f"{where.get('kind')} {where.get('name')}"
            line += f" at step {where.get('step')} ({call})"
    return line


def fork(request: HttpRequest, job: Job) -> Job:
    """Forks the job from the posted form; ``InvalidArgument`` for bad input."""
    from runtime.errors import InvalidArgument

    form = ForkForm(request.POST)
    if not form.is_valid():
        raise InvalidArgument(
            "the fork form is not valid",
            details={"fields": form.errors.get_json_data()},
        )
    try:
        overrides = form.overrides()
    except forms.ValidationError as exc:
        raise InvalidArgument(" ".join(exc.messages)) from None
    return forks.job_fork(
        job=job,
        actor=actor_for(request),
        checkpoint_id=form.cleaned_data["checkpoint_id"],
        overrides=overrides,
    )


def compare_context(original: Job, fork_job: Job) -> dict[str, Any]:
    """A run and its fork side by side."""
    data = job_comparison(
        effect_selectors.job_compare(original=original, fork=fork_job)
    )
    for change in data["state_changes"]:
        change["before_json"] = pretty_json(change["before"])
        change["after_json"] = pretty_json(change["after"])
    for pair in data["effects"]:
        for side in ("original", "fork"):
            item = pair[side]
            if item is not None:
                item["response_json"] = pretty_json(item["response"])
    return {"comparison": data, "fork_job": fork_job}
