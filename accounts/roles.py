"""The two roles: Organisers run events and moderate; Bloggers are assigned to sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import Group, Permission

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

ORGANISERS = "Organisers"
BLOGGERS = "Bloggers"

# Organisers manage the programme and moderate in the admin.
ORGANISER_PERMISSIONS = [
    ("entries", "moderate_entry"),
    *[
        (app, f"{action}_{model}")
        for app, model in [("events", "event"), ("talks", "session"), ("talks", "speaker")]
        for action in ("add", "change", "delete", "view")
    ],
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


def is_organiser(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Organisers run the event: they may moderate and blog in every session."""
    return bool(user.is_active and user.has_perm("entries.moderate_entry"))
