"""Named actors and a small programme, built once per test.

The cast: `organiser` runs the London event, `blogger` is assigned to the Like Minds
session, `outsider` is a blogger assigned elsewhere, `nyc_organiser` runs New York (and
nothing in London), and anonymous readers need no account.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import channels.auth
import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.roles import BLOGGERS, ORGANISERS, ensure_groups
from entries import actions
from entries.models import Entry
from events.models import Event
from realtime import broadcast
from sessions.models import Session, Speaker

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _separate_rate_limits(settings):
    """Each test counts from zero, with limits out of the way unless it lowers them."""
    settings.RATE_LIMIT_PREFIX = f"rl-{uuid.uuid4().hex}"
    settings.RATE_LIMIT_POSTS = 10_000
    settings.RATE_LIMIT_API = 10_000
    settings.RATE_LIMIT_QUESTIONS = 10_000


@pytest.fixture(autouse=True)
def _audience_round_by_hand(settings):
    """No background audience round: a test that wants one calls hub.audience.tick()."""
    settings.AUDIENCE_TICK_SECONDS = 0


@pytest.fixture(autouse=True)
def _media_in_a_temporary_folder(settings, tmp_path_factory):
    """Photos' renditions go to a folder of the test's own, never into the work tree."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


def make_user(django_user_model, username: str, group: str | None = None, **extra):
    user = django_user_model.objects.create_user(username=username, password=PASSWORD, **extra)
    if group:
        ensure_groups()
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def organiser(db, django_user_model, event):
    user = make_user(django_user_model, "olivia", ORGANISERS, is_staff=True)
    event.organisers.add(user)
    return user


@pytest.fixture
def new_york(db):
    return Event.objects.create(
        name="Social Media Week New York",
        slug="smw-new-york",
        city="New York",
        time_zone="America/New_York",
        hashtag="#SMWNYC",
        series_hashtag="#SMW",
        starts_on=dt.date(2026, 11, 23),
        ends_on=dt.date(2026, 11, 27),
    )


@pytest.fixture
def nyc_organiser(db, django_user_model, new_york):
    """An organiser as real as `organiser` (staff, in the group), of New York only."""
    user = make_user(django_user_model, "nadia", ORGANISERS, is_staff=True)
    new_york.organisers.add(user)
    return user


@pytest.fixture
def blogger(db, django_user_model):
    return make_user(django_user_model, "ben", BLOGGERS, first_name="Ben", last_name="Blogger")


@pytest.fixture
def outsider(db, django_user_model):
    return make_user(django_user_model, "oscar", BLOGGERS)


@pytest.fixture
def event(db):
    return Event.objects.create(
        name="Social Media Week London",
        slug="smw-london",
        city="London",
        time_zone="Europe/London",
        hashtag="#SMWLDN",
        series_hashtag="#SMW",
        starts_on=dt.date(2026, 11, 23),
        ends_on=dt.date(2026, 11, 27),
    )


@pytest.fixture
def euan(db):
    return Speaker.objects.create(name="Euan Semple", slug="euan-semple", affiliation="Author")


@pytest.fixture
def session(db, event, euan, blogger):
    starts = timezone.now() - dt.timedelta(minutes=20)
    session = Session.objects.create(
        event=event,
        title="Like Minds: the Social Business Immersive",
        slug="like-minds",
        room="Hub Westminster",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        status=Session.Status.LIVE,
    )
    session.speakers.add(euan)
    session.bloggers.add(blogger)
    return session


@pytest.fixture
def other_session(db, event, outsider):
    starts = timezone.now() + dt.timedelta(days=1)
    session = Session.objects.create(
        event=event,
        title="Labs and experiments",
        slug="labs",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
    )
    session.bloggers.add(outsider)
    return session


def post_entry(session, author, body="Hello from the room", **fields) -> Entry:
    return actions.post_entry(
        session=session, author=author, kind=fields.pop("kind", "text"), body=body, **fields
    )


@pytest.fixture
def entry(session, blogger):
    return post_entry(session, blogger, "Scott Gould opens the **Like Minds** immersive.")


@pytest.fixture
def user_lookups(monkeypatch) -> list:
    """Every user Channels' AuthMiddleware looks up for a socket, in order."""
    seen = []
    real_get_user = channels.auth.get_user

    async def get_user(scope):
        user = await real_get_user(scope)
        seen.append(user)
        return user

    monkeypatch.setattr(channels.auth, "get_user", get_user)
    return seen


class RecordingLayer:
    """Stands in for the channel layer: keeps what broadcast sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group: str, message: dict) -> None:
        self.sent.append((group, message))

    def changes(self) -> list[dict]:
        return [
            {**json.loads(message["text"]), "_seq": message["seq"], "_group": group}
            for group, message in self.sent
        ]


@pytest.fixture
def pushed(monkeypatch, django_capture_on_commit_callbacks):
    """Run a block as a committed change would be: its pushes land here."""
    layer = RecordingLayer()
    monkeypatch.setattr(broadcast, "get_channel_layer", lambda: layer)

    class Watch:
        def __enter__(self):
            self.capture = django_capture_on_commit_callbacks(execute=True)
            self.capture.__enter__()
            return layer

        def __exit__(self, *exc):
            return self.capture.__exit__(*exc)

    return Watch
