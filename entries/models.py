from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from entries.markdown import render_markdown
from liveblog.validators import HttpURLField, refuse_unstorable_text

# One message for a speaker who is not the session's, whichever door the entry comes by.
NOT_THIS_SESSIONS_SPEAKER = (
    "That speaker is not one of this session's speakers: pick one of theirs, or type the "
    "name of whoever said it."
)


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
        RESTORED = "restored"

    session = models.ForeignKey("talks.Session", on_delete=models.CASCADE, related_name="entries")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="entries"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(
        help_text="Markdown.", error_messages={"blank": "Write something before posting."}
    )
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
    source_url = HttpURLField(blank=True, help_text="Where the quote comes from (http or https).")
    key_moment = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # Set by the first change of words or attribution; a key-moment mark leaves it alone.
    edited_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # created_seq orders the stream; seq is the number of the entry's latest change.
    created_seq = models.PositiveBigIntegerField(editable=False)
    seq = models.PositiveBigIntegerField(editable=False)
    # A retried post carries the same client-made key and gets the original entry back.
    idempotency_key = models.CharField(max_length=100, blank=True, editable=False)
    idempotency_fingerprint = models.CharField(max_length=64, blank=True, editable=False)

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
            models.UniqueConstraint(
                fields=["author", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="entry_idempotency_key_unique_per_author",
            ),
        ]
        indexes = [models.Index(fields=["attribution_speaker", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} in {self.session_id}"

    def get_absolute_url(self) -> str:
        """The entry's own page; on the session page it is also the anchor #entry-<id>."""
        return self.session.get_entry_url(self.pk)

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
        """Its words or attribution changed after posting (a key-moment mark is not an edit)."""
        return self.edited_at is not None and not self.is_deleted

    def clean(self) -> None:
        """The rules for an entry, for every door: the console, the API, the admin, commands."""
        errors: dict[str, list[str]] = {}
        for name in ("body", "attribution_name", "source_url"):
            try:
                refuse_unstorable_text(getattr(self, name))
            except ValidationError as error:
                errors.setdefault(name, []).extend(error.messages)
        was_empty = not self.body  # clean_fields has said so already
        self.body = self.body.strip()
        self.attribution_name = self.attribution_name.strip()
        if not self.body and not was_empty:
            errors.setdefault("body", []).append("Write something before posting.")
        elif len(self.body) > settings.ENTRY_BODY_MAX_LENGTH:
            errors.setdefault("body", []).append(
                f"An entry is at most {settings.ENTRY_BODY_MAX_LENGTH:,} characters "
                f"(this one is {len(self.body):,})."
            )
        if self.kind == self.Kind.TEXT:
            # A text entry carries no attribution, whatever was sent with it.
            self.attribution_speaker = None
            self.attribution_name = ""
            self.source_url = ""
        elif self.kind == self.Kind.QUOTE:
            speaker_id = self.attribution_speaker_id
            if not speaker_id and not self.attribution_name:
                errors.setdefault("__all__", []).append(
                    "A quote needs attribution: pick one of the session's speakers or name "
                    "who said or wrote it."
                )
            if speaker_id and self.attribution_name:
                errors.setdefault("attribution_name", []).append(
                    "Pick a speaker or type a name, not both."
                )
            if (
                speaker_id
                and self.session_id
                and not self.session.speakers.filter(pk=speaker_id).exists()
            ):
                errors.setdefault("attribution_speaker", []).append(NOT_THIS_SESSIONS_SPEAKER)
        if errors:
            raise ValidationError(errors)

    def render(self) -> None:
        """Render the body once, here, so no reader's request ever renders Markdown."""
        self.html = render_markdown(self.body)
