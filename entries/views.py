from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from entries import broadcast
from entries.forms import EntryForm
from entries.models import IDEMPOTENCY_KEY, ApiToken, Entry, IdempotencyConflict
from sessions.models import Session, is_organiser


def _get_session(event: str, slug: str) -> Session:
    return get_object_or_404(
        Session.objects.select_related("event").prefetch_related("speakers"),
        event__slug=event,
        slug=slug,
    )


def _get_session_for_blogger(request: HttpRequest, event: str, slug: str) -> Session:
    session = _get_session(event, slug)
    if not session.can_blog(request.user):
        raise PermissionDenied("You are not assigned to blog this session.")
    return session


def _get_entry_for_editor(request: HttpRequest, pk: int) -> Entry:
    """The entry, if this user may change it (Entry.check_editor)."""
    entry = get_object_or_404(Entry.objects.visible().for_display(), pk=pk)
    entry.check_editor(request.user)
    return entry


@require_GET
def session_page(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    session = _get_session(event, slug)
    # Read the stream position before the entries, so the page never claims more than it shows.
    last_seq = session.last_seq
    before = request.GET.get("before")
    entries = session.entries.visible().for_display().newest_first()
    if before is not None:
        # isascii: "²" is a digit to str.isdigit() but not to int().
        if not (before.isascii() and before.isdigit()) or len(before) > 18:
            return HttpResponseBadRequest("`before` must be a positive whole number.")
        entries = entries.filter(created_seq__lt=int(before))
    per_page = settings.ENTRIES_PER_PAGE
    page = list(entries[: per_page + 1])
    older = page[per_page].created_seq + 1 if len(page) > per_page else None
    page = page[:per_page]
    key_moments = (
        session.entries.visible()
        .filter(key_moment=True)
        .order_by("created_seq")
        .only("pk", "session_id", "html", "created_at", "created_seq")
        if before is None
        else []
    )
    return render(
        request,
        "entries/session.html",
        {
            "session": session,
            "event": session.event,
            "entries": page,
            # The fragments readers are pushed, from this process's cache where it has them.
            "fragments": [broadcast.entry_html(entry) for entry in page],
            "older": older,
            "is_head": before is None,
            "last_seq": last_seq,
            "key_moments": key_moments,
            "can_blog": session.can_blog(request.user),
        },
    )


@require_GET
def entry_page(request: HttpRequest, event: str, slug: str, pk: int) -> HttpResponse:
    session = _get_session(event, slug)
    entry = get_object_or_404(session.entries.for_display(), pk=pk)
    if entry.is_deleted:
        return render(request, "entries/entry_gone.html", {"session": session}, status=410)
    return render(
        request, "entries/entry.html", {"session": session, "event": session.event, "entry": entry}
    )


@require_GET
def console(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    session = _get_session_for_blogger(request, event, slug)
    entries = session.entries.visible().for_display().newest_first()[:50]
    return render(
        request,
        "entries/console.html",
        {
            "session": session,
            "event": session.event,
            "form": EntryForm(session=session),
            "entries": entries,
            "is_organiser": is_organiser(request.user),
        },
    )


@require_POST
def create(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    session = _get_session_for_blogger(request, event, slug)
    form = EntryForm(request.POST, session=session)
    if not form.is_valid():
        if request.htmx:
            response = render(
                request,
                "entries/partials/compose.html",
                {"form": form, "session": session},
                status=422,
            )
            return reswap(retarget(response, "#compose"), "outerHTML")
        return render(
            request,
            "entries/console.html",
            {
                "session": session,
                "event": session.event,
                "form": form,
                "entries": session.entries.visible().for_display().newest_first()[:50],
            },
            status=422,
        )
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        return HttpResponseBadRequest("Idempotency-Key must be 1 to 100 letters, digits or - _ . :")
    try:
        entry = form.save_entry(author=request.user, idempotency_key=key)
    except IdempotencyConflict as conflict:
        return HttpResponse(str(conflict), status=409, content_type="text/plain; charset=utf-8")
    if not request.htmx:
        return redirect(session.get_console_url())
    return render(
        request,
        "entries/partials/console_created.html",
        {
            "entry": entry,
            "session": session,
            "form": EntryForm(session=session),
            "user": request.user,
        },
    )


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    entry = _get_entry_for_editor(request, pk)
    session = entry.session
    if request.method == "POST":
        form = EntryForm(request.POST, instance=entry, session=session)
        if form.is_valid():
            form.save_entry()
            if not request.htmx:
                return redirect(session.get_console_url())
            return render(request, "entries/partials/console_entry.html", {"entry": entry})
        status = 422
    else:
        form = EntryForm(instance=entry, session=session)
        status = 200
    template = "entries/partials/edit_form.html" if request.htmx else "entries/edit.html"
    return render(
        request, template, {"form": form, "entry": entry, "session": session}, status=status
    )


@require_GET
def console_entry(request: HttpRequest, pk: int) -> HttpResponse:
    """One entry as the console shows it: used by "cancel" in the inline editor."""
    entry = _get_entry_for_editor(request, pk)
    return render(request, "entries/partials/console_entry.html", {"entry": entry})


@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    entry = _get_entry_for_editor(request, pk)
    entry.soft_delete()
    if not request.htmx:
        return redirect(entry.session.get_console_url())
    return HttpResponse("")


@require_POST
def key_moment(request: HttpRequest, pk: int) -> HttpResponse:
    entry = _get_entry_for_editor(request, pk)
    value = request.POST.get("key_moment")
    if value not in {"on", "off"}:
        return HttpResponseBadRequest("key_moment must be 'on' or 'off'.")
    entry.set_key_moment(value == "on")
    if not request.htmx:
        return redirect(entry.session.get_console_url())
    return render(request, "entries/partials/console_entry.html", {"entry": entry})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """The user's API tokens: create one (shown once) or revoke one."""
    new_secret = None
    error = None
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        if not name or len(name) > 100:
            error = "Give the token a name of 1 to 100 characters, e.g. “phone”."
        elif "\x00" in name:
            error = "The name contains a NUL character."
        else:
            _, new_secret = ApiToken.issue(request.user, name)
    tokens = request.user.api_tokens.all()
    return render(
        request,
        "entries/profile.html",
        {"tokens": tokens, "new_secret": new_secret, "error": error},
        status=422 if error else 200,
    )


@login_required
@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.revoke()
    return redirect("entries:profile")
