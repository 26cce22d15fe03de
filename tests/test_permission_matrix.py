"""Who may do what, through which door: every cell of the matrix, checked.

Roles: anonymous, a logged-in reader, a blogger not assigned to the session (`outsider`),
an assigned blogger (`blogger`), an organiser of the session's event (`organiser`), an
organiser of another event (`other_organiser`: New York's, staff and in the Organisers
group like London's, refused everywhere London's organiser is allowed, but for opening
the admin, where they see only New York) and a superuser. An assigned blogger acting
on another assigned blogger's entries is the `*_other` actions; on their own, `*_own`.
Everyone else's "own" entry is one they wrote while they were still assigned (anonymous
has none and acts on the colleague's).

Doors: the console's plain HTML forms (`form`), the same endpoints as htmx calls them
(`htmx`), the JSON API with a Bearer token (`token`) and with the browser session and its
CSRF token (`api_session`), the admin (`admin`), the organisers' own pages (`organise`),
and the websocket, which never writes:
any client frame but {"type": "ping"} closes it with 4400 and changes nothing.

A cell passes when an allowed action answers with its success status and changes what it
should, and a refused one answers 401/403/404 (or the login redirect) and changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils.crypto import get_random_string

from accounts.models import ApiToken
from accounts.roles import BLOGGERS
from archive.models import Summary
from entries import actions
from entries.models import AuditEvent, Entry, Photo
from liveblog.asgi import application
from questions.models import Question
from realtime.consumers import CLOSE_BAD_REQUEST
from sessions.models import Session
from tests.conftest import make_user, post_entry
from tests.photo_files import photo
from tests.test_photos_api import stored_files

ROLES = ["anonymous", "reader", "outsider", "blogger", "organiser", "other_organiser", "superuser"]
WRITERS = {"blogger", "organiser", "superuser"}  # may blog this session
MODERATORS = {"organiser", "superuser"}
SIGNED_IN = set(ROLES) - {"anonymous"}

# action: (doors that offer it, roles allowed)
MATRIX: dict[str, tuple[tuple[str, ...], set[str]]] = {
    "read": (("form", "token", "websocket"), set(ROLES)),
    "open_console": (("form",), WRITERS),
    "post": (("form", "outbox", "token", "api_session"), WRITERS),
    "edit_own": (("form", "htmx", "token", "api_session"), WRITERS),
    "edit_other": (("form", "htmx", "token", "api_session", "admin"), MODERATORS),
    "delete_own": (("form", "htmx", "token", "api_session"), WRITERS),
    "delete_other": (("form", "htmx", "token", "api_session", "admin"), MODERATORS),
    "key_moment_own": (("form", "htmx", "token"), WRITERS),
    "key_moment_other": (("form", "htmx", "token", "admin"), MODERATORS),
    "restore_own": (("form", "htmx", "token", "api_session"), WRITERS),
    "restore_other": (("form", "htmx", "token", "api_session", "admin"), MODERATORS),
    "post_photo": (("form", "outbox", "token", "api_session"), WRITERS),
    "post_citation": (("form", "outbox", "token", "api_session"), WRITERS),
    "history_other": (("form", "token"), WRITERS),
    "restore_revision_own": (("form", "token", "api_session"), WRITERS),
    "restore_revision_other": (("form", "token", "api_session"), MODERATORS),
    # Moderation (entries.actions): pin one entry above the stream, feature entries on the
    # event's page; the audit log of it all. The event's organisers only.
    "pin": (("form", "htmx", "token", "api_session"), MODERATORS),
    "unpin": (("form", "htmx", "token", "api_session"), MODERATORS),
    "feature": (("form", "htmx", "token", "api_session"), MODERATORS),
    "unfeature": (("form", "htmx", "token", "api_session"), MODERATORS),
    "read_audit": (("form", "token", "api_session"), MODERATORS),
    "start_and_end": (("form", "htmx", "admin", "organise"), WRITERS),
    "change_session": (("organise",), MODERATORS),
    "assign_blogger": (("organise",), MODERATORS),
    "organise_event": (("form",), MODERATORS),
    "event_dashboard": (("form",), MODERATORS),  # audience figures (organisers/dashboard.py)
    "create_token": (("form",), SIGNED_IN),
    "revoke_own_token": (("form",), SIGNED_IN),
    "revoke_others_token": (("form",), set()),
    "admin": (("form",), MODERATORS | {"other_organiser"}),
    # The archive (archive/): a session's summary, and an event's export.
    "write_summary": (("form",), WRITERS),
    "export": (("form",), MODERATORS),
    # Readers' questions (questions/): anyone sends one; the session's writers see and
    # decide them (the console's queue: its page, its htmx panel; the API).
    "ask_question": (("form", "htmx", "token"), set(ROLES)),
    "see_questions": (("form", "htmx", "token"), WRITERS),
    "approve_question": (("form", "htmx", "token", "api_session"), WRITERS),
    "reject_question": (("form", "htmx", "token", "api_session"), WRITERS),
}
MODERATION_FLAGS = {"pin", "unpin", "feature", "unfeature"}
CELLS = [
    (role, action, door)
    for action, (doors, _) in MATRIX.items()
    for door in doors
    if door != "websocket"
    for role in ROLES
]


@dataclass
class World:
    session: Session
    users: dict[str, object]
    colleague: object
    own: dict[str, Entry] = field(default_factory=dict)
    others: Entry | None = None
    # Entries already hidden, for restoring.
    hidden_own: dict[str, Entry] = field(default_factory=dict)
    hidden_others: Entry | None = None
    # A reader's question waiting in the session's queue.
    question: Question | None = None
    # The colleague's entry, pinned and featured by an organiser, for unpinning and unfeaturing.
    flagged: Entry | None = None


@pytest.fixture
def world(
    db, django_user_model, session, other_session, blogger, outsider, organiser, nyc_organiser
) -> World:
    reader = make_user(django_user_model, "rita")
    superuser = django_user_model.objects.create_superuser("sue", "sue@example.com", "x")
    colleague = make_user(django_user_model, "cara", BLOGGERS)
    session.bloggers.add(colleague)
    users = {
        "reader": reader,
        "outsider": outsider,
        "blogger": blogger,
        "organiser": organiser,
        "other_organiser": nyc_organiser,
        "superuser": superuser,
    }
    world = World(session=session, users=users, colleague=colleague)
    # The reader, the outsider and New York's organiser wrote here once, while assigned.
    once_assigned = ("reader", "outsider", "other_organiser")
    for role in once_assigned:
        session.bloggers.add(users[role])
    for role, user in users.items():
        world.own[role] = post_entry(session, user, f"{role}'s own entry")
        # An edit, so the entry has an earlier version to restore.
        actions.edit_entry(entry=world.own[role], body=f"{role}'s own entry, edited", by=user)
        world.hidden_own[role] = post_entry(session, user, f"{role}'s hidden entry")
        actions.hide_entry(entry=world.hidden_own[role])
    for role in once_assigned:
        session.bloggers.remove(users[role])
    world.others = post_entry(session, colleague, "The colleague's entry")
    actions.edit_entry(entry=world.others, body="The colleague's entry, edited", by=colleague)
    world.hidden_others = post_entry(session, colleague, "The colleague's hidden entry")
    actions.hide_entry(entry=world.hidden_others)
    world.question = Question.objects.create(session=session, name="Ann", body="Why now?")
    world.flagged = post_entry(session, colleague, "The colleague's pinned, featured entry")
    actions.pin_entry(entry=world.flagged, by=organiser)
    actions.feature_entry(entry=world.flagged, by=organiser)
    return world


def snapshot(world: World) -> dict:
    """Everything a write could change."""
    entries = {
        entry.pk: (
            entry.body,
            entry.seq,
            entry.key_moment,
            entry.deleted_at,
            entry.author_id,
            entry.pinned,
            entry.featured,
        )
        for entry in Entry.objects.all()
    }
    session = Session.objects.get(pk=world.session.pk)
    # Tokens, less the ones perform() issues to act with or to try revoking.
    tokens = set(
        ApiToken.objects.exclude(name__in=["matrix", "to revoke"]).values_list(
            "user_id", "name", "revoked_at"
        )
    )
    return {
        "entries": entries,
        "photos": Photo.objects.count(),
        "files": len(stored_files()),
        "title": session.title,
        "bloggers": set(session.bloggers.values_list("pk", flat=True)),
        "status": session.status,
        "last_seq": session.last_seq,
        "tokens": tokens,
        "questions": set(Question.objects.values_list("pk", "status", "answer")),
        "audit": AuditEvent.objects.count(),
    }


def client_for(world: World, role: str, door: str) -> tuple[Client, dict]:
    """A client at this door as this role, and the headers each request needs."""
    user = world.users.get(role)
    headers: dict[str, str] = {}
    if door == "token":
        client = Client(enforce_csrf_checks=True)  # a script has no CSRF cookie
        if user is not None:
            _, secret = ApiToken.issue(user, "matrix")
            headers["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
        return client, headers
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    # What a page leaves in the browser: the CSRF cookie, echoed in the header.
    secret = get_random_string(32)
    client.cookies[settings.CSRF_COOKIE_NAME] = secret
    headers["HTTP_X_CSRFTOKEN"] = secret
    if door == "htmx":
        headers["HTTP_HX_REQUEST"] = "true"
    if door == "outbox":
        headers["HTTP_X_LIVEBLOG_OUTBOX"] = "1"
    return client, headers


def target(world: World, role: str, action: str) -> Entry:
    if action.startswith("restore"):
        if action.endswith("_own") and role in world.hidden_own:
            return world.hidden_own[role]
        return world.hidden_others
    if action.endswith("_own") and role in world.own:
        return world.own[role]
    return world.others


def perform(world: World, role: str, action: str, door: str):
    """Attempt the action; return (response, what success looks like)."""
    client, headers = client_for(world, role, door)
    session = world.session
    verb = action.removesuffix("_own").removesuffix("_other")
    entry = (
        target(world, role, action) if verb in {"edit", "delete", "key_moment", "restore"} else None
    )
    api = door in {"token", "api_session"}

    if action == "read":
        if door == "token":
            return client.get(f"/api/sessions/{session.pk}/entries", **headers), 200
        assert client.get(world.others.get_absolute_url()).status_code == 200
        return client.get(session.get_absolute_url()), 200
    if action == "open_console":
        return client.get(session.get_console_url()), 200
    if action == "history_other":
        if door == "token":
            return client.get(f"/api/entries/{world.others.pk}/revisions", **headers), 200
        return client.get(reverse("entries:history", args=[world.others.pk]), **headers), 200
    if action.startswith("restore_revision"):
        entry = world.own.get(role, world.others) if action.endswith("_own") else world.others
        revision = entry.revisions.get()
        if door in {"token", "api_session"}:
            url = f"/api/entries/{entry.pk}/revisions/{revision.pk}/restore"
            return client.post(url, **headers), 200
        url = reverse("entries:restore_revision", args=[entry.pk, revision.pk])
        return client.post(url, **headers), 302
    if action == "post_photo":
        form = {
            "alt": "A slide",
            "caption": "Posted",
            "image": SimpleUploadedFile("s.jpg", photo("JPEG")),
        }
        if door in {"token", "api_session"}:
            return client.post(f"/api/sessions/{session.pk}/photos", form, **headers), 201
        url = reverse(
            "entries:create_photo", kwargs={"event": session.event.slug, "slug": session.slug}
        )
        return client.post(url, form, **headers), 201 if door == "outbox" else 302
    if action == "post_citation":
        citation = {
            "kind": "citation",
            "body": "Posted",
            "attribution": "Alan Patrick",
            "publication": "Broadstuff",
            "source_url": "https://broadstuff.com/",
        }
        if door in {"token", "api_session"}:
            url = f"/api/sessions/{session.pk}/entries"
            body = json.dumps(citation)
            return client.post(url, body, content_type="application/json", **headers), 201
        citation["attribution_name"] = citation.pop("attribution")
        url = reverse("entries:create", kwargs={"event": session.event.slug, "slug": session.slug})
        return client.post(url, citation, **headers), 201 if door == "outbox" else 302
    if action == "admin":
        return client.get("/admin/", **headers), 200
    if action.endswith(("_question", "_questions")):
        return perform_on_questions(client, headers, world, action, door)
    if action == "write_summary":
        url = reverse("archive:summary", kwargs={"event": session.event.slug, "slug": session.slug})
        return client.post(url, {"body": "Summed up"}, **headers), 302
    if action == "export":
        url = reverse("archive:export", kwargs={"slug": session.event.slug, "format": "json"})
        return client.get(url, **headers), 200
    if action == "create_token":
        return client.post("/accounts/profile/", {"name": "phone"}, **headers), 200
    if action in {"revoke_own_token", "revoke_others_token"}:
        owner = world.users.get(role) if action == "revoke_own_token" else world.colleague
        token, _ = ApiToken.issue(owner or world.colleague, "to revoke")
        url = reverse("accounts:revoke_token", args=[token.pk])
        return client.post(url, **headers), 302
    if action in MODERATION_FLAGS:
        flagged = world.flagged if action.startswith("un") else world.others
        if api:
            return client.post(f"/api/entries/{flagged.pk}/{action}", **headers), 200
        url = reverse(f"entries:{action.removeprefix('un')}", args=[flagged.pk])
        value = "off" if action.startswith("un") else "on"
        return client.post(url, {"value": value}, **headers), 200 if door == "htmx" else 302
    if action == "read_audit":
        if api:
            return client.get(f"/api/events/{session.event.slug}/audit", **headers), 200
        return client.get(reverse("organisers:audit", args=[session.event.slug])), 200
    if door == "admin":
        return perform_in_admin(client, headers, world, action, entry)
    if door == "organise":
        return perform_in_organisers_pages(client, headers, world, action)
    if action == "organise_event":
        return client.get(reverse("organisers:event", args=[session.event.slug])), 200
    if action == "event_dashboard":
        return client.get(reverse("organisers:dashboard", args=[session.event.slug])), 200

    success = 200 if door == "htmx" or api else 302
    if action == "post":
        if api:
            url = f"/api/sessions/{session.pk}/entries"
            body = json.dumps({"body": "Posted"})
            return client.post(url, body, content_type="application/json", **headers), 201
        url = reverse("entries:create", kwargs={"event": session.event.slug, "slug": session.slug})
        success = 201 if door == "outbox" else 302
        return client.post(url, {"kind": "text", "body": "Posted"}, **headers), success
    if action == "start_and_end":
        url = reverse("entries:status", kwargs={"event": session.event.slug, "slug": session.slug})
        return client.post(url, {"status": "ended"}, **headers), success
    if verb == "restore":
        if api:
            return client.post(f"/api/entries/{entry.pk}/restore", **headers), 200
        return client.post(reverse("entries:restore", args=[entry.pk]), **headers), success
    if api:
        url = f"/api/entries/{entry.pk}"
        if action == "delete_other":
            # Someone else's entry is hidden with a reason (DELETE without one is a 422).
            body = json.dumps({"reason": "Off topic"})
            hide = f"{url}/hide"
            return client.post(hide, body, content_type="application/json", **headers), 200
        if verb == "delete":
            return client.delete(url, **headers), 200
        change = {"body": "Changed"} if verb == "edit" else {"key_moment": True}
        return client.patch(
            url, json.dumps(change), content_type="application/json", **headers
        ), 200
    if verb == "edit":
        url = reverse("entries:edit", args=[entry.pk])
        return client.post(url, {"kind": "text", "body": "Changed"}, **headers), success
    if verb == "delete":
        url = reverse("entries:delete", args=[entry.pk])
        return client.post(url, {"reason": "Off topic"}, **headers), success
    url = reverse("entries:key_moment", args=[entry.pk])
    return client.post(url, {"key_moment": "on"}, **headers), success


def perform_on_questions(client: Client, headers: dict, world: World, action: str, door: str):
    session, question = world.session, world.question
    api = door in {"token", "api_session"}
    if action == "ask_question":
        sent = {"name": "Ann", "body": "Asked"}
        if api:
            url = f"/api/sessions/{session.pk}/questions"
            return client.post(url, json.dumps(sent), content_type="application/json"), 202
        url = reverse("questions:ask", kwargs={"event": session.event.slug, "slug": session.slug})
        # The page's form carries no CSRF token: a client without the cookie sends it.
        return Client(enforce_csrf_checks=True).post(url, sent, **headers), 200
    if action == "see_questions":
        if api:
            return client.get(f"/api/sessions/{session.pk}/questions", **headers), 200
        url = reverse("questions:queue", kwargs={"event": session.event.slug, "slug": session.slug})
        return client.get(url, **headers), 200
    verb = action.removesuffix("_question")
    if api:
        success = 201 if verb == "approve" else 200
        url = f"/api/questions/{question.pk}/{verb}"
        if verb == "approve":
            body = json.dumps({"answer": "Answered"})
            return client.post(url, body, content_type="application/json", **headers), success
        return client.post(url, **headers), success
    data = {"answer": "Answered"} if verb == "approve" else {}
    url = reverse(f"questions:{verb}", args=[question.pk])
    return client.post(url, data, **headers), 200 if door == "htmx" else 302


def perform_in_admin(client: Client, headers: dict, world: World, action: str, entry: Entry | None):
    if action == "edit_other":
        url = reverse("admin:entries_entry_change", args=[entry.pk])
        data = {"kind": "text", "body": "Changed", "attribution_name": "", "source_url": ""}
        return client.post(url, data, **headers), 302
    if action == "start_and_end":
        url = reverse("admin:talks_session_changelist")
        data = {"action": "end_sessions", "_selected_action": [world.session.pk]}
        return client.post(url, data, **headers), 302
    name = {
        "delete_other": "hide_entries",
        "key_moment_other": "mark_key_moments",
        "restore_other": "restore_entries",
    }[action]
    data = {"action": name, "_selected_action": [entry.pk]}
    if name == "hide_entries":  # asked why first: the answer comes with the confirmation
        data.update(confirm="yes", reason="Off topic")
    return client.post(reverse("admin:entries_entry_changelist"), data, **headers), 302


def perform_in_organisers_pages(client: Client, headers: dict, world: World, action: str):
    session = world.session
    args = [session.event.slug, session.pk]
    if action == "start_and_end":
        url = reverse("organisers:status", args=args)
        return client.post(url, {"status": "ended"}, **headers), 302
    if action == "change_session":
        local = {"starts_at": "2026-11-24T09:00", "ends_at": "2026-11-24T10:00"}
        data = {"title": "Changed", "slug": session.slug, "room": "", **local}
        return client.post(reverse("organisers:session", args=args), data, **headers), 302
    url = reverse("organisers:session_assign", args=args)
    return client.post(url, {"session-username": "rita"}, **headers), 302


def allowed(role: str, action: str, door: str) -> bool:
    roles = MATRIX[action][1]
    return role in (roles & MODERATORS if door in {"admin", "organise"} else roles)


def assert_refusal(response, role: str, action: str, door: str) -> None:
    code = response.status_code
    login_redirect = door == "admin" or action == "admin" or role == "anonymous"
    if role == "other_organiser" and door == "admin":
        # Staff: London's objects are not in their lists, so the admin answers as for a
        # missing object (a redirect to its index) or an action on nothing (back to the list).
        assert code in {302, 403, 404}, code
        assert "login" not in response.get("Location", ""), response.get("Location")
    elif login_redirect and door in {"form", "htmx", "admin", "organise"} and code == 302:
        assert code == 302 and "login" in response["Location"], (code, response.get("Location"))
    elif role == "anonymous" and door in {"token", "api_session"}:
        assert code == 401
    else:
        assert code in {403, 404}, code


def check_cell(world: World, role: str, action: str, door: str) -> None:
    before = snapshot(world)
    response, success = perform(world, role, action, door)
    after = snapshot(world)
    if not allowed(role, action, door):
        assert_refusal(response, role, action, door)
        assert after == before
        assert not ApiToken.objects.filter(name="to revoke", revoked_at__isnull=False).exists()
        assert not Summary.objects.exists()
        return
    assert response.status_code == success, (response.status_code, response.content[:300])
    if response.status_code == 302:
        assert "login" not in response["Location"]
    if action.startswith("post"):
        new = set(after["entries"]) - set(before["entries"])
        assert len(new) == 1
        created = Entry.objects.get(pk=new.pop())
        assert created.body == "Posted" and created.author == world.users[role]
        kind = {"post_photo": "photo", "post_citation": "citation"}.get(action, "text")
        assert created.kind == kind
    elif action.startswith("restore_revision"):
        entry = world.own.get(role, world.others) if action.endswith("_own") else world.others
        entry.refresh_from_db()
        assert not entry.body.endswith(", edited")
        assert after["last_seq"] == before["last_seq"] + 1
    elif action.startswith(("edit", "key_moment", "delete", "restore")):
        entry = Entry.objects.get(pk=target(world, role, action).pk)
        changed = {
            "edit": entry.body == "Changed",
            "key_moment": entry.key_moment,
            "delete": entry.is_deleted,
            "restore": not entry.is_deleted,
        }
        assert changed[action.removesuffix("_own").removesuffix("_other")]
        assert after["last_seq"] == before["last_seq"] + 1
        assert entry.author_id == before["entries"][entry.pk][4]  # never re-attributed
    elif action in MODERATION_FLAGS:
        flagged = world.flagged if action.startswith("un") else world.others
        flagged.refresh_from_db()
        field = "pinned" if action.endswith("pin") else "featured"
        assert getattr(flagged, field) is not action.startswith("un")
        # Pinning the colleague's entry unpins the one pinned before: two changes.
        assert after["last_seq"] == before["last_seq"] + (2 if action == "pin" else 1)
        assert after["audit"] == before["audit"] + (2 if action == "pin" else 1)
    elif action == "start_and_end":
        assert after["status"] == "ended"
    elif action == "change_session":
        assert after["title"] == "Changed"
    elif action == "assign_blogger":
        assert world.users["reader"].pk in after["bloggers"] - before["bloggers"]
    elif action == "write_summary":
        summary = Summary.objects.get(session=world.session)
        assert summary.body == "Summed up" and summary.written_by == world.users[role]
    elif action == "export":
        assert response.json()["event"]["slug"] == world.session.event.slug
    elif action == "create_token":
        assert ApiToken.objects.filter(user=world.users[role], name="phone").exists()
    elif action == "revoke_own_token":
        assert ApiToken.objects.get(name="to revoke").revoked_at is not None
    elif action == "ask_question":
        (new,) = after["questions"] - before["questions"]
        assert Question.objects.get(pk=new[0]).status == Question.Status.PENDING
    elif action == "approve_question":
        question = Question.objects.get(pk=world.question.pk)
        assert question.status == "approved" and question.decided_by == world.users[role]
        assert question.entry.kind == "question" and question.entry.answer == "Answered"
        assert after["last_seq"] == before["last_seq"] + 1
    elif action == "reject_question":
        question = Question.objects.get(pk=world.question.pk)
        assert question.status == "rejected" and question.decided_by == world.users[role]
    if action.startswith(
        (
            "read",
            "open",
            "admin",
            "create",
            "revoke",
            "history",
            "organise",
            "write_summary",
            "export",
            "ask_question",
            "see_questions",
            "reject_question",
        )
    ):
        assert after["entries"] == before["entries"]
        assert after["last_seq"] == before["last_seq"]


@pytest.mark.parametrize("action", list(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_the_matrix(world, role, action):
    """Each door of this cell in turn, each rolled back before the next."""
    failures = {}
    for door in MATRIX[action][0]:
        if door == "websocket":
            continue  # test_the_websocket_never_writes_whoever_is_logged_in
        with transaction.atomic():
            try:
                check_cell(world, role, action, door)
            except AssertionError as failure:
                failures[door] = str(failure).splitlines()[0]
            transaction.set_rollback(True)
    verdict = "may" if role in MATRIX[action][1] else "may not"
    assert not failures, f"{role} {verdict} {action}; wrong at: {failures}"


def test_every_cell_is_in_the_matrix():
    assert len(CELLS) == len(ROLES) * sum(
        len([d for d in doors if d != "websocket"]) for doors, _ in MATRIX.values()
    )
    assert len(CELLS) > 200


# ---- Tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
def test_a_revoked_token_stops_working_at_once_for_every_write(client, world, method):
    blogger = world.users["blogger"]
    token, secret = ApiToken.issue(blogger, "phone")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    entry = world.own["blogger"]
    url = f"/api/entries/{entry.pk}"
    if method == "post":
        url = f"/api/sessions/{world.session.pk}/entries"
    body = json.dumps({"body": "Once"})
    call = getattr(client, method)
    first = call(url, body, content_type="application/json", **auth)
    assert first.status_code in {200, 201}
    token.revoke()
    before = snapshot(world)
    again = call(url, json.dumps({"body": "Twice"}), content_type="application/json", **auth)
    assert again.status_code == 401
    assert again.json()["detail"].startswith("Authentication required")
    assert snapshot(world) == before


def test_a_token_of_a_deactivated_user_stops_working(client, world):
    blogger = world.users["blogger"]
    _, secret = ApiToken.issue(blogger, "phone")
    blogger.is_active = False
    blogger.save()
    response = client.post(
        f"/api/sessions/{world.session.pk}/entries",
        json.dumps({"body": "x"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 401


def test_a_token_acts_only_as_its_owner(client, world):
    """The reader's token cannot post, even with the blogger's session cookie beside it."""
    _, secret = ApiToken.issue(world.users["reader"], "phone")
    client.force_login(world.users["blogger"])
    before = snapshot(world)
    response = client.post(
        f"/api/sessions/{world.session.pk}/entries",
        json.dumps({"body": "x"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 403
    assert snapshot(world) == before


def test_token_forms_need_their_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["blogger"])
    assert client.post("/accounts/profile/", {"name": "phone"}).status_code == 403
    token, _ = ApiToken.issue(world.users["blogger"], "phone")
    assert client.post(reverse("accounts:revoke_token", args=[token.pk])).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None and ApiToken.objects.count() == 1


# ---- The admin -----------------------------------------------------------------------------


def test_staff_who_may_only_view_entries_cannot_moderate_them(client, world, django_user_model):
    viewer = make_user(django_user_model, "vera", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(content_type__app_label="entries", codename="view_entry"),
        Permission.objects.get(content_type__app_label="talks", codename="view_session"),
    )
    client.force_login(viewer)
    before = snapshot(world)
    assert client.get(reverse("admin:entries_entry_changelist")).status_code == 200
    for action in ("hide_entries", "mark_key_moments"):
        client.post(
            reverse("admin:entries_entry_changelist"),
            {"action": action, "_selected_action": [world.others.pk]},
        )
    client.post(
        reverse("admin:talks_session_changelist"),
        {"action": "end_sessions", "_selected_action": [world.session.pk]},
    )
    assert snapshot(world) == before


def test_organisers_hold_the_moderation_permission_and_bloggers_none(world):
    assert world.users["organiser"].has_perm("entries.moderate_entry")
    assert not Group.objects.get(name=BLOGGERS).permissions.exists()
    assert not world.users["blogger"].is_staff


# ---- The websocket: read-only for everyone -----------------------------------------------

WRITE_FRAMES = [
    {"type": "entry", "body": "injected"},
    {"type": "entry.created", "session": 1, "body": "injected", "author": 1},
    {"type": "edit", "id": 1, "body": "changed"},
    {"type": "delete", "id": 1},
    {"type": "key_moment", "id": 1, "value": True},
    {"type": "status", "status": "ended"},
    {"type": "stream.change", "seq": 1, "text": "{}"},
    {"type": "ping", "body": "injected"},
    {"type": "PING"},
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
async def test_the_websocket_never_writes_whoever_is_logged_in(role, world):
    user = world.users.get(role)
    cookie = b""
    if user is not None:
        client = Client()
        await sync_to_async(client.force_login)(user)
        cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    before = await sync_to_async(snapshot)(world)
    last_seq = await sync_to_async(lambda: Session.objects.get(pk=world.session.pk).last_seq)()
    path = f"/ws/sessions/{world.session.pk}/?after={last_seq}"
    for frame in WRITE_FRAMES:
        frame = {**frame, "id": world.others.pk} if "id" in frame else frame
        headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie)]
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        assert (await communicator.receive_json_from(timeout=3))["type"] == "caught_up"
        await communicator.send_to(text_data=json.dumps({"type": "ping"}))
        assert await communicator.receive_json_from(timeout=3) == {"type": "pong"}
        await communicator.send_to(text_data=json.dumps(frame))
        closed = await communicator.receive_output(timeout=3)
        assert closed == {"type": "websocket.close", "code": CLOSE_BAD_REQUEST}, frame
        await communicator.disconnect()
    assert await sync_to_async(snapshot)(world) == before
