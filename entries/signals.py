"""Keep stored fragments (Entry.fragment) true when a name they show is changed.

An entry's fragment shows its author's name, its speaker's name, affiliation and page,
its event's time zone, and its permalink (the event's and the session's slugs). These live
in lower apps (accounts, events, talks), which know nothing of entries: the receivers are
connected here (EntriesConfig.ready) and re-render, in the saving transaction, the
fragments of that object's entries. Derived data, not a change of the stream: no sequence
number, nothing pushed; readers see the new name on their next page or catch-up.

Each door that renames (the admin, organisers' pages, the programme import, seed_demo,
a shell) saves the model, so a signal catches every one. A save that touches none of the
shown fields (a login's last_login, a session's status) costs nothing more.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models.signals import post_save, pre_save

from entries.models import Entry
from entries.stream import render_fragment
from events.models import Event
from sessions.models import Session, Speaker

# Per model: the fields its entries' fragments show, and the lookup from an entry to it.
SHOWN: dict[type[models.Model], tuple[tuple[str, ...], str]] = {}

BATCH = 500


def _shown_values(instance: models.Model, fields: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(instance, field) for field in fields)


def remember_shown_values(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    """Before a save: what the stored fragments show of the object (None: nothing to do)."""
    fields, _ = SHOWN[sender]
    instance._fragment_shown = None
    if raw or instance.pk is None:
        return
    if update_fields is not None and not set(update_fields) & set(fields):
        return
    instance._fragment_shown = (
        sender._default_manager.filter(pk=instance.pk).values_list(*fields).first()
    )


def rerender_if_renamed(sender, instance, created=False, raw=False, **kwargs) -> None:
    """After a save: if a shown field changed, render that object's entries again."""
    fields, lookup = SHOWN[sender]
    before = getattr(instance, "_fragment_shown", None)
    instance._fragment_shown = None
    if raw or created or before is None or tuple(before) == _shown_values(instance, fields):
        return
    rerender(Entry.objects.filter(**{lookup: instance.pk}))


def rerender(entries: models.QuerySet[Entry]) -> int:
    """Render and store the visible entries' fragments again; returns how many.

    The rows are locked while they are rendered (PostgreSQL), so a concurrent edit of one
    either commits first and is rendered here, or waits and renders its own. A hidden
    entry's fragment is left: restoring it renders it anew.
    """
    ids = list(entries.visible().values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        # Its own transaction where the save had none (a view in autocommit): the lock
        # needs one, and a batch is written whole or not at all.
        with transaction.atomic():
            _rerender_batch(ids[start : start + BATCH])
    return len(ids)


def _rerender_batch(ids: list[int]) -> None:
    batch = Entry.objects.filter(pk__in=ids).visible().for_display().select_for_update(of=("self",))
    changed = []
    for entry in batch:
        entry.fragment = render_fragment(entry)
        changed.append(entry)
    Entry.objects.bulk_update(changed, ["fragment"], batch_size=BATCH)


def connect() -> None:
    SHOWN.update(
        {
            get_user_model(): (("username", "first_name", "last_name"), "author_id"),
            Speaker: (("name", "affiliation", "slug"), "attribution_speaker_id"),
            Event: (("slug", "time_zone"), "session__event_id"),
            Session: (("slug", "event_id"), "session_id"),
        }
    )
    for model in SHOWN:
        uid = f"entries.fragments.{model._meta.label_lower}"
        pre_save.connect(remember_shown_values, sender=model, dispatch_uid=uid)
        post_save.connect(rerender_if_renamed, sender=model, dispatch_uid=uid)
