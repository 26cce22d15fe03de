from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from entries.markdown import plain_text, render_markdown
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
        return self.select_related("author", "attribution_speaker", "session__event", "photo")

    def newest_first(self) -> EntryQuerySet:
        return self.order_by("-created_seq")


class Entry(models.Model):
    """One post in a session's liveblog: text, or a quote from a speaker or another writer."""

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        QUOTE = "quote", "Quote"
        CITATION = "citation", "Citation"
        PHOTO = "photo", "Photo"
        # A reader's question, approved by a blogger (questions app): attribution_name is
        # who asked, body their words, answer the blogger's reply. Posted only by
        # entries.actions.post_question.
        QUESTION = "question", "Reader question"

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
    # Blank only for a photo (its caption); Entry.clean asks every other kind for words.
    body = models.TextField(blank=True, help_text="Markdown; a photo's caption.")
    html = models.TextField(editable=False, help_text="The body rendered and sanitised on save.")
    # The whole entry as readers see it (entries/partials/entry.html), stored by every
    # change (entries.actions) and by a rename of a name it shows (entries.signals), so
    # no read renders a template. Empty until first rendered (an archive just loaded).
    fragment = models.TextField(editable=False, default="")
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
    # A citation: attribution_name is its author, body the quoted text, source_url the link.
    publication = models.CharField(
        max_length=200, blank=True, help_text="For a citation: the publication, or a handle."
    )
    published_on = models.DateField(
        null=True, blank=True, help_text="For a citation: when the source was published."
    )
    # A photo: the processed image (renditions, no metadata) and its description.
    photo = models.OneToOneField(
        "entries.Photo", on_delete=models.PROTECT, null=True, blank=True, related_name="entry"
    )
    alt = models.CharField(
        max_length=1000, blank=True, help_text="For a photo: what it shows, for who cannot see it."
    )
    # A reader's question: the blogger's answer (Markdown), rendered with the body.
    answer = models.TextField(blank=True, help_text="For a reader's question: the answer.")
    answer_html = models.TextField(blank=True, editable=False)
    key_moment = models.BooleanField(default=False)
    # Moderation (entries.actions): an organiser pins one entry above a session's stream
    # (at most one per session; hiding it unpins it) and features entries on the event's
    # front page (a hidden one stays featured but is not shown until restored).
    pinned = models.BooleanField(default=False, editable=False)
    featured = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # Set by the first change of words or attribution; a key-moment mark leaves it alone.
    edited_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Who made the latest edit (the author's own, a co-author's organiser, ...).
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
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
                fields=["session"],
                condition=models.Q(pinned=True),
                name="one_pinned_entry_per_session",
            ),
            models.UniqueConstraint(
                fields=["session", "created_seq"], name="entry_created_seq_unique_per_session"
            ),
            models.UniqueConstraint(
                fields=["author", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="entry_idempotency_key_unique_per_author",
            ),
        ]
        indexes = [
            models.Index(fields=["attribution_speaker", "-created_at"]),
            # The session page's highlights (key moments, the pinned entry): without it, a
            # read of every entry of the session (10,000 rows for a day's keynote stream).
            models.Index(
                fields=["session", "created_seq"],
                condition=models.Q(deleted_at__isnull=True)
                & (models.Q(key_moment=True) | models.Q(pinned=True)),
                name="entry_highlights",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} in {self.session_id}"

    def get_absolute_url(self) -> str:
        """The entry's own page; on the session page it is also the anchor #entry-<id>."""
        return self.session.get_entry_url(self.pk)

    @property
    def plain_text(self) -> str:
        """Its words without markup (entries.markdown.plain_text), to be escaped again."""
        return plain_text(self.html)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def attribution(self) -> str:
        if self.attribution_speaker_id:
            return self.attribution_speaker.name
        return self.attribution_name

    @property
    def source_host(self) -> str:
        """The link's site, shown on a citation's card (what the blogger typed; never fetched)."""
        host = urlsplit(self.source_url).hostname or ""
        return host.removeprefix("www.")

    @property
    def was_edited(self) -> bool:
        """Its words or attribution changed after posting (a key-moment mark is not an edit)."""
        return self.edited_at is not None and not self.is_deleted

    @property
    def edited_by_other(self) -> bool:
        """Its latest edit was made by someone other than its author (an organiser)."""
        return (
            self.was_edited
            and self.edited_by_id is not None
            and self.edited_by_id != self.author_id
        )

    @property
    def shown_pinned(self) -> bool:
        return self.pinned and not self.is_deleted

    def clean(self) -> None:
        """The rules for an entry, for every door: the console, the API, the admin, commands."""
        errors: dict[str, list[str]] = {}
        for name in ("body", "attribution_name", "source_url", "publication", "alt", "answer"):
            try:
                refuse_unstorable_text(getattr(self, name))
            except ValidationError as error:
                errors.setdefault(name, []).extend(error.messages)
        # None (a JSON null) is clean_fields' to refuse ("cannot be null"); not stripped here.
        for name in ("body", "attribution_name", "publication", "alt", "answer"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, value.strip())
        if self.body is None:
            pass
        elif not self.body and self.kind != self.Kind.PHOTO:
            errors.setdefault("body", []).append(
                "Write the quoted text before posting."
                if self.kind == self.Kind.CITATION
                else "Write something before posting."
            )
        elif len(self.body) > settings.ENTRY_BODY_MAX_LENGTH:
            errors.setdefault("body", []).append(
                f"An entry is at most {settings.ENTRY_BODY_MAX_LENGTH:,} characters "
                f"(this one is {len(self.body):,})."
            )
        if self.kind != self.Kind.CITATION:
            self.publication = ""
            self.published_on = None
        if self.kind != self.Kind.PHOTO:
            self.alt = ""
            if self.photo_id:
                errors.setdefault("kind", []).append(
                    "A photo entry stays a photo: delete it and post the words anew."
                )
        if self.kind != self.Kind.QUESTION:
            self.answer = ""
        elif isinstance(self.answer, str) and len(self.answer) > settings.ENTRY_BODY_MAX_LENGTH:
            errors.setdefault("answer", []).append(
                f"An answer is at most {settings.ENTRY_BODY_MAX_LENGTH:,} characters "
                f"(this one is {len(self.answer):,})."
            )
        if self.kind in (self.Kind.TEXT, self.Kind.PHOTO):
            # Text and photos carry no attribution, whatever was sent with them.
            self.attribution_speaker = None
            self.attribution_name = ""
            self.source_url = ""
        if self.kind == self.Kind.PHOTO:
            if not self.photo_id:
                errors.setdefault("kind", []).append(
                    "A photo entry needs its image: post it with the photo form or "
                    "POST /api/sessions/{id}/photos."
                )
            if not self.alt:
                errors.setdefault("alt", []).append(
                    "Describe the photo for readers who cannot see it (alt text)."
                )
        elif self.kind == self.Kind.CITATION:
            self.attribution_speaker = None
            if not self.attribution_name:
                errors.setdefault("attribution_name", []).append(
                    "A citation needs its author: who wrote it."
                )
            if not self.source_url:
                errors.setdefault("source_url", []).append(
                    "A citation needs the link to its source (http or https)."
                )
        elif self.kind == self.Kind.QUESTION:
            self.attribution_speaker = None
            self.source_url = ""
            if not self.attribution_name:
                errors.setdefault("attribution_name", []).append(
                    "A reader's question needs the name of who asked it."
                )
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
        self.answer_html = render_markdown(self.answer) if self.answer else ""


class Photo(models.Model):
    """A photo as readers get it: renditions in a few widths, WebP and JPEG, no metadata.

    Made by entries.photos from what a blogger uploaded (the original is never kept) and
    stored through Django's storage API under photos/<key>/.
    """

    key = models.CharField(max_length=32, unique=True, editable=False)
    # Of the largest rendition, upright (the EXIF orientation applied).
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # [{"name": storage name, "width": ..., "height": ..., "format": "webp"|"jpeg"}, ...]
    renditions = models.JSONField(default=list)
    source_format = models.CharField(max_length=10, help_text="What the upload's bytes were.")
    source_bytes = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"Photo {self.key} ({self.width}×{self.height})"

    def _srcset(self, format: str) -> str:
        from django.core.files.storage import default_storage

        return ", ".join(
            f"{default_storage.url(item['name'])} {item['width']}w"
            for item in sorted(self.renditions, key=lambda item: item["width"])
            if item["format"] == format
        )

    @property
    def webp_srcset(self) -> str:
        return self._srcset("webp")

    @property
    def jpeg_srcset(self) -> str:
        return self._srcset("jpeg")

    @property
    def fallback_url(self) -> str:
        """The JPEG for a browser that reads no srcset: the one nearest 960 px wide."""
        from django.core.files.storage import default_storage

        jpegs = [item for item in self.renditions if item["format"] == "jpeg"]
        best = min(jpegs, key=lambda item: abs(item["width"] - 960))
        return default_storage.url(best["name"])


class EntryRevision(models.Model):
    """An earlier version of an entry, kept when an edit replaced it."""

    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="revisions")
    kind = models.CharField(max_length=10, choices=Entry.Kind.choices)
    body = models.TextField(blank=True)
    html = models.TextField(blank=True)
    attribution_speaker = models.ForeignKey(
        "talks.Speaker", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attribution_name = models.CharField(max_length=200, blank=True)
    source_url = HttpURLField(blank=True)
    publication = models.CharField(max_length=200, blank=True)
    published_on = models.DateField(null=True, blank=True)
    alt = models.CharField(max_length=1000, blank=True)
    # When this version was written (the entry's posting or its edit) and by whom.
    written_at = models.DateTimeField()
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # When an edit replaced it.
    replaced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-replaced_at", "-pk"]

    def __str__(self) -> str:
        return f"Entry #{self.entry_id} as of {self.written_at:%Y-%m-%d %H:%M}"


class AuditEvent(models.Model):
    """One moderation action, or an edit by someone other than the entry's author.

    Written by entries.actions inside the action's own transaction, so the log and the
    stream never disagree; kept while the entry is hidden. Organisers read it on their
    pages (/organise/<event>/audit/) and through GET /api/events/{slug}/audit.
    """

    class Action(models.TextChoices):
        HIDDEN = "hidden", "Hidden"
        RESTORED = "restored", "Restored"
        PINNED = "pinned", "Pinned"
        UNPINNED = "unpinned", "Unpinned"
        FEATURED = "featured", "Featured"
        UNFEATURED = "unfeatured", "Unfeatured"
        EDITED = "edited", "Edited"
        REVISION_RESTORED = "revision_restored", "Earlier version restored"

    # None: the system (a command, the clock); a deleted account also leaves None.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="audit_events")
    session = models.ForeignKey(
        "talks.Session", on_delete=models.CASCADE, related_name="audit_events"
    )
    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True)
    # The changed fields as they were and as they became.
    before = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    after = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    # The number the change took in the session's stream.
    seq = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["event", "-at"], name="audit_event_at")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} entry #{self.entry_id} at {self.at:%Y-%m-%d %H:%M}"


def audit_events(event, *, session=None, actor=None, action=None, entry=None):
    """An event's audit log, filtered as the organisers' page and the API ask: `session`
    and `entry` ids, `actor` a username, `action` one of AuditEvent.Action."""
    events = AuditEvent.objects.filter(event=event).select_related("actor")
    if session is not None:
        events = events.filter(session_id=session)
    if actor:
        events = events.filter(actor__username=actor)
    if action:
        events = events.filter(action=action)
    if entry is not None:
        events = events.filter(entry_id=entry)
    return events
