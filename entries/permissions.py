"""Who may write where: the one guard for every door (console, htmx, API).

Each raises PermissionDenied with a message for the person: Django answers 403 with it,
the API {"detail": ...} with 403. The admin has its own permissions (organisers only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from entries.models import Entry
from liveblog.ratelimit import hit

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from sessions.models import Session

    User = AbstractBaseUser | AnonymousUser

NOT_ASSIGNED = "You are not assigned to blog this session."
NOT_YOURS = "You can only change your own entries."
NOT_ORGANISER = "Only the organisers of this event can do that."


def blog_refusal(user: User, session: Session) -> str | None:
    """Why this user may not post or change entries in the session now, or None."""
    if not session.can_blog(user):
        return NOT_ASSIGNED
    return session.closed_to(user)


def require_blogger(user: User, session: Session) -> None:
    """May this user blog here, now: assigned (or an organiser of its event), and the session open to them."""
    reason = blog_refusal(user, session)
    if reason:
        raise PermissionDenied(reason)


def edit_refusal(user: User, entry: Entry) -> str | None:
    """Why this user may not change the entry, or None: the event's organisers any, bloggers their own."""
    reason = blog_refusal(user, entry.session)
    if reason:
        return reason
    if entry.author_id != user.pk and not entry.session.is_organised_by(user):
        return NOT_YOURS
    return None


def get_entry_for_editor(user: User, pk: int) -> Entry:
    """The entry (hidden ones included: restoring needs them), if this user may change it."""
    entry = get_object_or_404(Entry.objects.for_display(), pk=pk)
    reason = edit_refusal(user, entry)
    if reason:
        raise PermissionDenied(reason)
    return entry


def get_entry_for_moderator(user: User, pk: int) -> Entry:
    """The entry (hidden ones included), if this user organises its event: pin, feature."""
    entry = get_object_or_404(Entry.objects.for_display(), pk=pk)
    if not entry.session.is_organised_by(user):
        raise PermissionDenied(NOT_ORGANISER)
    return entry


def get_entry_for_reviewer(user: User, pk: int) -> Entry:
    """The entry, if this user blogs its session (or organises): they may read its history."""
    entry = get_object_or_404(Entry.objects.for_display(), pk=pk)
    if not entry.session.can_blog(user):
        raise PermissionDenied(NOT_ASSIGNED)
    return entry


def check_post_rate(user: User) -> None:
    """One limit for every door that posts: a runaway script cannot flood a session."""
    hit(
        f"post:{user.pk}",
        limit=settings.RATE_LIMIT_POSTS,
        window=60,
        message="You are posting faster than {limit} entries a minute: this one was not "
        "posted. Try again in {retry_after} seconds.",
    )
