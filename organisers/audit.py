"""The event's audit log for its organisers: moderation and edits by someone other than the
author (entries.models.AuditEvent, written by entries.actions), filtered and paginated."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from entries.models import AuditEvent, audit_events
from organisers.views import get_event_for_organiser

PER_PAGE = 50


class AuditFilter(forms.Form):
    session = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    actor = forms.ChoiceField(required=False, label="Person")
    action = forms.ChoiceField(required=False)

    def __init__(self, *args, event, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        sessions = event.sessions.order_by("starts_at", "pk").values_list("pk", "title")
        self.fields["session"].choices = [("", "Every session"), *sessions]
        actors = (
            AuditEvent.objects.filter(event=event, actor__isnull=False)
            .values_list("actor__username", flat=True)
            .distinct()
            .order_by("actor__username")
        )
        self.fields["actor"].choices = [("", "Everyone"), *((name, name) for name in actors)]
        self.fields["action"].choices = [("", "Every action"), *AuditEvent.Action.choices]


def _shown(value: object) -> object:
    return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


def _changes(event: AuditEvent) -> list[tuple[str, object, object]]:
    names = list(dict.fromkeys([*event.before, *event.after]))
    return [(name, _shown(event.before.get(name)), _shown(event.after.get(name))) for name in names]


@login_required
@require_GET
def audit(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_event_for_organiser(request, slug)
    form = AuditFilter(request.GET or None, event=event)
    status = 200
    filters: dict = {}
    if form.is_bound:
        if form.is_valid():
            filters = {name: value for name, value in form.cleaned_data.items() if value}
        else:
            status = 400
    events = audit_events(event, **filters).select_related("entry", "session")
    page = Paginator(events, PER_PAGE).get_page(request.GET.get("page"))
    for row in page:
        row.changes = _changes(row)
        row.session.event = event
        row.entry.session = row.session  # its URL, without a query per row
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "organisers/audit.html",
        {
            "event": event,
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "filtered": bool(filters),
        },
        status=status,
    )
