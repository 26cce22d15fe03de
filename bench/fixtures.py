"""Bench data: a blogger with an API token, an event, and one fresh session per label.

Run inside the bench's own database (DATABASE_URL set by bench/run.py); prints JSON:
{"token": "...", "sessions": {"label": id, ...}}.

    python -m bench.fixtures LABEL [LABEL ...]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys


def main(labels: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from accounts.models import ApiToken
    from accounts.roles import BLOGGERS, ensure_groups
    from events.models import Event
    from sessions.models import Session

    ensure_groups()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-blogger", defaults={"first_name": "Ben", "last_name": "Blogger"}
    )
    user.groups.add(Group.objects.get(name=BLOGGERS))
    _, token = ApiToken.issue(user, "bench")
    event, _ = Event.objects.get_or_create(
        slug="bench",
        defaults={
            "name": "Bench Conf",
            "city": "Loopback",
            "time_zone": "Europe/London",
            "starts_on": dt.date(2026, 11, 23),
            "ends_on": dt.date(2026, 11, 27),
        },
    )
    sessions = {}
    now = timezone.now()
    for label in labels:
        session = Session.objects.create(
            event=event,
            title=f"Keynote ({label})",
            slug=f"keynote-{label}-{Session.objects.count() + 1}",
            starts_at=now,
            ends_at=now + dt.timedelta(hours=1),
            status=Session.Status.LIVE,
        )
        session.bloggers.add(user)
        sessions[label] = session.pk
    print(json.dumps({"token": token, "sessions": sessions, "event": event.slug}))


if __name__ == "__main__":
    main(sys.argv[1:])
