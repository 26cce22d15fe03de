"""The two groups: Organisers open the admin's pages; Bloggers are assigned to sessions.

Whom an organiser organises is not a group's business: events.models.organises(user,
event) asks whether they run that event or its series (Event.organisers,
Series.organisers); superusers run everything. The group only gives staff organisers the
admin's model permissions, which events.adminscope narrows to their own events.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

ORGANISERS = "Organisers"
BLOGGERS = "Bloggers"

# What the admin's pages need; each object is still checked against organises().
ORGANISER_PERMISSIONS = [
    ("entries", "moderate_entry"),
    *[
        (app, f"{action}_{model}")
        for app, model in [("events", "event"), ("talks", "session"), ("talks", "speaker")]
        for action in ("add", "change", "delete", "view")
    ],
    # A series' organisers may correct it (liveblog.admin.SeriesAdmin: only theirs; adding
    # and deleting series stays with superusers).
    ("events", "view_series"),
    ("events", "change_series"),
    ("entries", "view_entry"),
    ("entries", "change_entry"),
    ("auth", "view_user"),
]


def ensure_groups(**kwargs) -> None:
    """Create the groups with their permissions; safe to run again."""
    organisers, _ = Group.objects.get_or_create(name=ORGANISERS)
    Group.objects.get_or_create(name=BLOGGERS)
    wanted = Permission.objects.none()
    for app_label, codename in ORGANISER_PERMISSIONS:
        wanted |= Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    organisers.permissions.add(*wanted)
