"""The programme import from the event's page: upload, preview, apply (all or nothing).

The same parser, plan and apply as `import_programme` (programme/), with the same
refusals. The uploaded file waits in the organiser's session between the preview and
the apply, and the apply plans again against the database as it is then: if that plan
is not the one previewed (someone changed the event meanwhile), nothing is applied and
the new preview is shown instead.
"""

from __future__ import annotations

import base64
import hashlib
import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from events.models import Event
from organisers.forms import ImportForm
from organisers.views import get_event_for_organiser
from programme.data import ProgrammeError
from programme.formats import MAX_BYTES, parse
from programme.importer import Plan, Result, apply, forecast, import_programme, make_plan

SESSION_KEY = "organisers:import:{slug}"


class PlanChanged(Exception):
    """The plan made at apply differs from the one previewed."""


def _parse(event: Event, raw: bytes):
    return parse(raw, zoneinfo.ZoneInfo(event.time_zone))


def _fingerprint(plan: Plan, result: Result) -> str:
    """What the organiser agreed to: every new, changed, removed and kept item."""
    parts = [
        result.summary(),
        *sorted(f"new {d.external_id}" for d in plan.new),
        *sorted(f"changed {c.session.pk} {','.join(c.fields)}" for c in plan.changed),
        *sorted(f"gone {s.pk}" for s in plan.vanished),
        *sorted(f"kept {s.pk}" for s in plan.kept),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _preview(request, event, raw: bytes, name: str, prune: bool, status: int = 200):
    programme = _parse(event, raw)
    plan, result = import_programme(programme, event.slug, prune=prune, dry_run=True)
    fingerprint = _fingerprint(plan, result)
    request.session[SESSION_KEY.format(slug=event.slug)] = {
        "name": name,
        "raw": base64.b64encode(raw).decode(),
        "prune": prune,
        "fingerprint": fingerprint,
    }
    return render(
        request,
        "organisers/import_preview.html",
        {"event": event, "plan": plan, "result": result, "programme": programme,
         "name": name, "prune": prune, "fingerprint": fingerprint},
        status=status,
    )  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_event_for_organiser(request, slug)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            form.add_error("file", f"The file is too big ({upload.size:,} bytes).")
        else:
            raw = upload.read()
            try:
                return _preview(request, event, raw, upload.name, form.cleaned_data["prune"])
            except ProgrammeError as error:
                form.add_error("file", f"{upload.name}: {error}")
    return render(
        request,
        "organisers/import.html",
        {"event": event, "form": form, "limit": settings.REQUEST_MAX_BYTES},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def confirm(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_event_for_organiser(request, slug)
    pending = request.session.get(SESSION_KEY.format(slug=event.slug))
    if not pending or pending.get("fingerprint") != request.POST.get("fingerprint"):
        messages.error(request, "That preview has expired: upload the file again.")
        return redirect("organisers:import", slug=event.slug)
    raw = base64.b64decode(pending["raw"])
    try:
        programme = _parse(event, raw)
        with transaction.atomic():
            plan = make_plan(programme, event.slug)
            agreed = _fingerprint(plan, forecast(plan, prune=pending["prune"]))
            if agreed != pending["fingerprint"]:
                raise PlanChanged
            result = apply(plan, prune=pending["prune"])
    except PlanChanged:
        messages.warning(
            request, "The event changed since the preview: here is what the import would do now."
        )
        return _preview(request, event, raw, pending["name"], pending["prune"], status=409)
    except ProgrammeError as error:
        messages.error(request, f"{pending['name']}: {error}. Nothing was changed.")
        return redirect("organisers:import", slug=event.slug)
    del request.session[SESSION_KEY.format(slug=event.slug)]
    messages.success(request, f"Imported {pending['name']}: {result.summary()}.")
    return redirect("organisers:event", slug=event.slug)
