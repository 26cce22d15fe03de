from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from entries import broadcast
from entries.markdown import render_markdown

if TYPE_CHECKING:
    from sessions.models import Session


class EntryQuerySet(models.QuerySet["Entry"]):
    def visible(self) -> EntryQuerySet:
        return self.filter(deleted_at__isnull=True)

    def for_display(self) -> EntryQuerySet:
        return self.select_related("author", "attribution_speaker", "session__event")

    def newest_first(self) -> EntryQuerySet:
        return self.order_by("-created_seq")


class Entry(models.Model):
    """One post in a session's liveblog: text, or a quote from a speaker or another writer."""

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        QUOTE = "quote", "Quote"

    class Action(models.TextChoices):
        CREATED = "created"
        UPDATED = "updated"
        DELETED = "deleted"

    session = models.ForeignKey("talks.Session", on_delete=models.CASCADE, related_name="entries")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="entries"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(help_text="Markdown.")
    html = models.TextField(editable=False, help_text="The body rendered and sanitised on save.")
    attribution_speaker = models.ForeignKey(
        "talks.Speaker",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="quotes",
        help_text="For a quote from one of the session's speakers.",
    )
    attribution_name = models.CharField(
        max_length=200, blank=True, help_text="For a quote from anyone else: who said or wrote it."
    )
    source_url = models.URLField(
        blank=True, help_text="Where the quote comes from (http or https)."
    )
    key_moment = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # created_seq orders the stream; seq is the number of the entry's latest change.
    created_seq = models.PositiveBigIntegerField(editable=False)
    seq = models.PositiveBigIntegerField(editable=False)

    objects = EntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "entries"
        ordering = ["-created_seq"]
        permissions = [("moderate_entry", "Can moderate every session's entries and status")]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="entry_seq_unique_per_session"),
            models.UniqueConstraint(
                fields=["session", "created_seq"], name="entry_created_seq_unique_per_session"
            ),
        ]
        indexes = [models.Index(fields=["attribution_speaker", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} in {self.session_id}"

    def get_absolute_url(self) -> str:
        """The entry's own page; on the session page it is also the anchor #entry-<id>."""
        return reverse(
            "entries:entry",
            kwargs={"event": self.session.event.slug, "slug": self.session.slug, "pk": self.pk},
        )

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def attribution(self) -> str:
        if self.attribution_speaker_id:
            return self.attribution_speaker.name
        return self.attribution_name

    @property
    def was_edited(self) -> bool:
        return self.created_seq != self.seq and not self.is_deleted

    @classmethod
    def post(cls, *, session: Session, author, **fields) -> Entry:
        """Publish a new entry: number it, render it, and push it to readers after commit."""
        entry = cls(session=session, author=author, **fields)
        entry._record(cls.Action.CREATED)
        return entry

    def edit(self, **fields) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self._record(self.Action.UPDATED)

    def set_key_moment(self, value: bool) -> None:
        if self.key_moment != value:
            self.edit(key_moment=value)

    def soft_delete(self) -> None:
        if not self.is_deleted:
            self.deleted_at = timezone.now()
            self._record(self.Action.DELETED)

    def _record(self, action: str) -> None:
        if self.kind == self.Kind.TEXT:
            self.attribution_speaker = None
            self.attribution_name = ""
            self.source_url = ""
        elif self.attribution_speaker_id:
            self.attribution_name = ""
        self.html = render_markdown(self.body)
        with transaction.atomic():
            self.seq = self.session.allocate_seq()
            now = timezone.now()
            if action == self.Action.CREATED:
                self.created_seq = self.seq
                self.created_at = now
            self.updated_at = now
            self.save()
            broadcast.entry_changed(self, action)
