from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from entries import actions, photos, stream
from entries.forms import EntryForm
from entries.models import Entry
from entries.permissions import (
    check_post_rate,
    edit_refusal,
    get_entry_for_editor,
    get_entry_for_moderator,
    get_entry_for_reviewer,
    require_blogger,
)
from events.models import organises
from sessions.models import Session

# The console's outbox (static/js/outbox.js) says what it is with this header: it wants
# the posted entry as the console shows it, or the reason as plain text.
OUTBOX_HEADER = "X-Liveblog-Outbox"


def _get_session(event: str, slug: str) -> Session:
    return get_object_or_404(
        Session.objects.select_related("event").prefetch_related("speakers"),
        event__slug=event,
        slug=slug,
    )


def _get_session_for_blogger(request: HttpRequest, event: str, slug: str) -> Session:
    session = _get_session(event, slug)
    require_blogger(request.user, session)
    return session


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _refused(request: HttpRequest, refusal: actions.StreamRefused) -> HttpResponse:
    """A change the stream's rules refuse: the reason, where the user made it."""
    if request.htmx or OUTBOX_HEADER in request.headers:
        return _text(str(refusal), refusal.status)
    return render(request, "entries/refused.html", {"reason": str(refusal)}, status=refusal.status)


def _console_entries(request: HttpRequest, session: Session) -> list[Entry]:
    entries = list(session.entries.visible().for_display().newest_first()[:50])
    can_moderate = session.is_organised_by(request.user)
    for entry in entries:
        entry.session = session
        entry.can_edit = edit_refusal(request.user, entry) is None
        entry.can_moderate = can_moderate
        entry.is_others = entry.author_id != request.user.pk
    return entries


def _console_entry(request: HttpRequest, entry: Entry, status: int = 200) -> HttpResponse:
    """One entry as the console shows it (its controls: the view has checked the user)."""
    entry.can_edit = True
    entry.can_moderate = entry.session.is_organised_by(request.user)
    entry.is_others = entry.author_id != request.user.pk
    return render(request, "entries/partials/console_entry.html", {"entry": entry}, status=status)


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
    # The head of the stream shows its key moments beside it and its pinned entry above
    # it (in the slot live.js keeps), both read by one query.
    highlights = (
        list(
            session.entries.visible()
            .filter(Q(key_moment=True) | Q(pinned=True))
            .order_by("created_seq")
            .only(
                "pk",
                "session_id",
                "html",
                "created_at",
                "created_seq",
                "seq",
                "key_moment",
                "pinned",
                "fragment",
            )
        )
        if before is None
        else []
    )
    key_moments = [entry for entry in highlights if entry.key_moment]
    pinned = next((entry for entry in highlights if entry.pinned), None)
    if pinned is not None:
        entries = entries.exclude(pk=pinned.pk)
    per_page = settings.ENTRIES_PER_PAGE
    page = list(entries[: per_page + 1])
    older = page[per_page].created_seq + 1 if len(page) > per_page else None
    page = page[:per_page]
    return render(
        request,
        "entries/session.html",
        {
            "session": session,
            "event": session.event,
            "entries": page,
            # The fragments readers are pushed, as stored with each entry (none rendered).
            "fragments": [stream.entry_html(entry) for entry in page],
            "pinned": pinned and stream.entry_html(pinned),
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


def _console(request: HttpRequest, session: Session, form: EntryForm, status: int = 200):
    last_seq = session.last_seq  # before the entries, as the reader's page does
    return render(
        request,
        "entries/console.html",
        {
            "session": session,
            "event": session.event,
            "form": form,
            "last_seq": last_seq,
            "is_organiser": organises(request.user, session.event),
            "entries": _console_entries(request, session),
            # Past the wrap-up time a blogger's console is read-only, and says why.
            "closed": session.closed_to(request.user),
            "wrap_up_ends_at": session.wrap_up_ends_at(),
        },
        status=status,
    )


@require_GET
def console(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    session = _get_session(event, slug)
    if not session.can_blog(request.user):
        require_blogger(request.user, session)  # raises, with the reason
    # A session past its wrap-up time still opens, read-only, saying why.
    return _console(request, session, EntryForm(session=session))


@require_POST
def create(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    """Post an entry: from the console's outbox (with an Idempotency-Key), or a plain form."""
    session = _get_session_for_blogger(request, event, slug)
    outbox = OUTBOX_HEADER in request.headers
    try:
        key = actions.parse_idempotency_key(request.headers.get("Idempotency-Key"))
    except ValueError as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    form = EntryForm(request.POST, session=session)
    if not form.is_valid():
        if outbox:
            messages = [message for errors in form.errors.values() for message in errors]
            return _text(" ".join(messages), 422)
        return _console(request, session, form, status=422)
    check_post_rate(request.user)
    try:
        entry = form.publish(author=request.user, idempotency_key=key)
    except actions.StreamRefused as refusal:
        return _refused(request, refusal)
    if outbox:
        return _console_entry(request, entry, status=200 if entry.replayed else 201)
    return redirect(session.get_console_url())


def _photo_refused(request: HttpRequest, reason: str, status: int) -> HttpResponse:
    if request.htmx or OUTBOX_HEADER in request.headers:
        return _text(reason, status)
    return render(request, "entries/refused.html", {"reason": reason}, status=status)


def _prepare_photo(request: HttpRequest, event: str, slug: str):
    """Everything checked before the image is worked on; a response if refused."""
    session = _get_session_for_blogger(request, event, slug)
    try:
        key = actions.parse_idempotency_key(request.headers.get("Idempotency-Key"))
    except ValueError as error:
        return _photo_refused(request, str(error), 400)
    upload = request.FILES.get("image")
    if upload is None:
        return _photo_refused(request, "Choose a photo, or take one, before posting.", 422)
    alt, caption = request.POST.get("alt", ""), request.POST.get("caption", "")
    try:
        photos.check_size(upload.size)
        actions.check_photo_entry(session=session, author=request.user, alt=alt, caption=caption)
    except photos.PhotoRefused as refusal:
        return _photo_refused(request, str(refusal), refusal.status)
    except ValidationError as error:
        return _photo_refused(request, " ".join(error.messages), 422)
    check_post_rate(request.user)
    fields = {"alt": alt, "caption": caption, "key_moment": "key_moment" in request.POST}
    return session, key, upload.read(), fields


def _finish_photo(request, session, processed, key, fields) -> HttpResponse:
    try:
        entry = actions.post_photo(
            session=session,
            author=request.user,
            processed=processed,
            idempotency_key=key,
            **fields,
        )
    except ValidationError as error:
        return _photo_refused(request, " ".join(error.messages), 422)
    except actions.StreamRefused as refusal:
        return _refused(request, refusal)
    if OUTBOX_HEADER in request.headers:
        loaded = Entry.objects.for_display().get(pk=entry.pk)
        return _console_entry(request, loaded, status=200 if entry.replayed else 201)
    return redirect(session.get_console_url())


@require_POST
async def create_photo(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    """Post a photo from the console (its outbox, or a plain multipart form).

    Async, so that decoding and resizing (entries.photos, in its own threads) never holds
    up Django's one thread for sync code, which every other request of this process needs.
    """
    prepared = await sync_to_async(_prepare_photo)(request, event, slug)
    if isinstance(prepared, HttpResponse):
        return prepared
    session, key, data, fields = prepared
    try:
        processed = await photos.process_off_loop(data)
    except photos.PhotoRefused as refusal:
        return _photo_refused(request, str(refusal), refusal.status)
    return await sync_to_async(_finish_photo)(request, session, processed, key, fields)


@require_GET
def history(request: HttpRequest, pk: int) -> HttpResponse:
    """An entry's earlier versions, for the session's bloggers; its editors may restore one."""
    entry = get_entry_for_reviewer(request.user, pk)
    return render(
        request,
        "entries/history.html",
        {
            "entry": entry,
            "session": entry.session,
            "event": entry.session.event,
            "revisions": entry.revisions.select_related("written_by", "attribution_speaker"),
            "can_restore": edit_refusal(request.user, entry) is None and not entry.is_deleted,
        },
    )


@require_POST
def restore_revision(request: HttpRequest, pk: int, revision: int) -> HttpResponse:
    """Make an earlier version the entry's words again: readers see the change live."""
    entry = get_entry_for_editor(request.user, pk)
    version = get_object_or_404(entry.revisions, pk=revision)
    version.entry = entry
    try:
        actions.restore_revision(revision=version, by=request.user)
    except actions.StreamRefused as refusal:
        return _refused(request, refusal)
    except ValidationError as error:
        return _photo_refused(request, " ".join(error.messages), 422)
    return redirect(entry.session.get_console_url() + f"#console-entry-{entry.pk}")


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_entry_for_editor(request.user, pk)
    if entry.is_deleted:
        return _refused(request, actions.EntryHidden())
    session = entry.session
    if request.method == "POST":
        form = EntryForm(request.POST, instance=entry, session=session)
        if form.is_valid():
            try:
                form.apply_edit(by=request.user)
            except actions.StreamRefused as refusal:
                return _refused(request, refusal)
            except ValidationError as error:  # the entry changed under the form
                return _text(" ".join(error.messages), 422)
            if not request.htmx:
                return redirect(session.get_console_url())
            return _console_entry(request, entry)
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
    entry = get_entry_for_editor(request.user, pk)
    if entry.is_deleted:
        return _refused(request, actions.EntryHidden())
    return _console_entry(request, entry)


def _hide_question(request: HttpRequest, entry: Entry, error: str = "", status: int = 200):
    """Ask before hiding; someone else's entry (an organiser's moderation) needs a reason."""
    others = entry.author_id != request.user.pk
    context = {
        "entry": entry,
        "session": entry.session,
        "needs_reason": others,
        "reason": request.POST.get("reason", ""),
        "error": error,
        "reason_max": actions.REASON_MAX_LENGTH,
    }
    if request.htmx:
        return render(request, "entries/partials/console_hide_form.html", context, status=status)
    return render(
        request,
        "entries/confirm.html",
        {
            **context,
            "question": "Hide this entry?" if others else "Delete this entry?",
            "consequence": "Readers will see it disappear. It can be restored afterwards."
            + (" The reason goes in the event's audit log." if others else ""),
            "action": request.path,
            "button": "Hide" if others else "Delete",
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Hide an entry. Without JavaScript, GET asks first (htmx asks with hx-confirm, or, for
    someone else's entry, with the inline form that takes the reason)."""
    entry = get_entry_for_editor(request.user, pk)
    if request.method == "GET":
        if entry.is_deleted:
            return redirect(entry.session.get_console_url())
        return _hide_question(request, entry)
    try:
        actions.hide_entry(entry=entry, by=request.user, reason=request.POST.get("reason", ""))
    except actions.StreamRefused as refusal:
        if refusal.status == 422:
            return _hide_question(request, entry, error=str(refusal), status=422)
        return _refused(request, refusal)
    if not request.htmx:
        return redirect(entry.session.get_console_url())
    return render(request, "entries/partials/console_deleted.html", {"entry": entry})


@require_POST
def restore(request: HttpRequest, pk: int) -> HttpResponse:
    """Bring a hidden entry back: readers see it return where it was."""
    entry = get_entry_for_editor(request.user, pk)
    try:
        actions.restore_entry(entry=entry, by=request.user, reason=request.POST.get("reason", ""))
    except actions.StreamRefused as refusal:
        return _refused(request, refusal)
    if not request.htmx:
        return redirect(_back_to(request, entry))
    return _console_entry(request, entry)


def _back_to(request: HttpRequest, entry: Entry) -> str:
    """Where a plain form goes after a change: `next` if it is one of our own paths
    (the audit page's Restore), else the console at the entry."""
    following = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(following, allowed_hosts=None) and following.startswith("/"):
        return following
    return entry.session.get_console_url() + f"#console-entry-{entry.pk}"


MODERATION = {
    "pin": (actions.pin_entry, actions.unpin_entry),
    "feature": (actions.feature_entry, actions.unfeature_entry),
}


@require_POST
def moderate(request: HttpRequest, pk: int, flag: str) -> HttpResponse:
    """Pin or unpin, feature or unfeature an entry (organisers of its event): readers see it
    at once. `value` is "on" or "off"."""
    entry = get_entry_for_moderator(request.user, pk)
    value = request.POST.get("value")
    if value not in {"on", "off"}:
        return HttpResponseBadRequest(f"value must be 'on' or 'off' to {flag} or un{flag}.")
    on, off = MODERATION[flag]
    try:
        (on if value == "on" else off)(
            entry=entry, by=request.user, reason=request.POST.get("reason", "")
        )
    except actions.StreamRefused as refusal:
        return _refused(request, refusal)
    if not request.htmx:
        return redirect(_back_to(request, entry))
    return _console_entry(request, entry)


@require_POST
def key_moment(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_entry_for_editor(request.user, pk)
    value = request.POST.get("key_moment")
    if value not in {"on", "off"}:
        return HttpResponseBadRequest("key_moment must be 'on' or 'off'.")
    try:
        actions.set_key_moment(entry=entry, value=value == "on")
    except actions.StreamRefused as refusal:
        return _refused(request, refusal)
    if not request.htmx:
        return redirect(entry.session.get_console_url())
    return _console_entry(request, entry)


STATUS_QUESTIONS = {
    Session.Status.LIVE: ("Start the session?", "Readers will see it as live.", "Start"),
    Session.Status.ENDED: (
        "End the session?",
        "Readers will see it as ended. Bloggers can still post wrap-ups for "
        f"{settings.SESSION_WRAP_UP_HOURS} hours.",
        "End session",
    ),
}


@require_http_methods(["GET", "POST"])
def set_status(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    """Start, end or reopen a session; readers see the new status at once.

    Without JavaScript, GET ?status=… asks first (htmx asks with hx-confirm).
    """
    session = _get_session(event, slug)
    if not session.can_blog(request.user):
        require_blogger(request.user, session)
    status = (request.POST if request.method == "POST" else request.GET).get("status")
    if status not in Session.Status.values:
        return HttpResponseBadRequest("status must be one of: upcoming, live, ended.")
    if request.method == "GET":
        if status not in STATUS_QUESTIONS:
            return HttpResponseBadRequest("status must be live or ended.")
        question, consequence, button = STATUS_QUESTIONS[status]
        return render(
            request,
            "entries/confirm.html",
            {
                "session": session,
                "question": question,
                "consequence": consequence,
                "action": request.path,
                "button": button,
                "fields": {"status": status},
            },
        )
    try:
        actions.set_session_status(session=session, status=status, by=request.user)
    except actions.StreamRefused as refusal:
        return _refused(request, refusal)
    if not request.htmx:
        return redirect(session.get_console_url())
    return render(request, "sessions/partials/console_status.html", {"session": session})
