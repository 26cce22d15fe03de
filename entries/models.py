from __future__ import annotations

import hashlib
import json
import re
import secrets
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from entries import broadcast
from entries.markdown import render_markdown

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from sessions.models import Session


# What a client may send as an Idempotency-Key (the console sends a UUID).
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used for a different entry."""


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
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Where the quote comes from (http or https).",
    )
    key_moment = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
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
        return self.created_seq != self.seq and not self.is_deleted

    def check_editor(self, user: AbstractBaseUser | AnonymousUser) -> None:
        """Raise PermissionDenied unless the user may change this entry.

        Organisers may change any entry; a blogger only their own, and only while assigned.
        """
        from sessions.models import is_organiser

        if is_organiser(user):
            return
        can_blog = self.session.can_blog(user)
        if can_blog and self.author_id == user.pk:
            return
        if can_blog:
            raise PermissionDenied("You can only change your own entries.")
        raise PermissionDenied("You are not assigned to blog this session.")

    @classmethod
    def post(
        cls, *, session: Session, author, idempotency_key: str | None = None, **fields: Any
    ) -> Entry:
        """Publish a new entry: number it, render it, and push it to readers after commit.

        With an idempotency key, a retry of the same post returns the original entry (with
        `replayed` set) instead of a duplicate; the same key for a different post raises
        IdempotencyConflict.
        """
        entry = cls(session=session, author=author, **fields)
        entry.replayed = False
        if not idempotency_key:
            entry._record(cls.Action.CREATED)
            return entry
        entry.idempotency_key = idempotency_key
        entry.idempotency_fingerprint = cls._fingerprint(session, fields)
        if (
            original := cls._replay(author, idempotency_key, entry.idempotency_fingerprint)
        ) is not None:
            return original
        try:
            with transaction.atomic():
                entry._record(cls.Action.CREATED)
        except IntegrityError:
            # A concurrent retry with the same key won the race: answer with its entry.
            original = cls._replay(author, idempotency_key, entry.idempotency_fingerprint)
            if original is None:
                raise
            return original
        return entry

    @classmethod
    def _replay(cls, author, key: str, fingerprint: str) -> Entry | None:
        original = cls.objects.filter(author=author, idempotency_key=key).first()
        if original is None:
            return None
        if original.idempotency_fingerprint != fingerprint:
            raise IdempotencyConflict(
                "This Idempotency-Key was already used for a different entry."
            )
        original.replayed = True
        return original

    @staticmethod
    def _fingerprint(session: Session, fields: dict[str, Any]) -> str:
        canonical = {name: getattr(value, "pk", value) for name, value in sorted(fields.items())}
        canonical["session"] = session.pk
        encoded = json.dumps(canonical, sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()

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
        # Rendered into href and cite: only http(s), whichever door the entry came in by.
        if self.source_url and not self.source_url.lower().startswith(("http://", "https://")):
            raise ValidationError({"source_url": "The source must be an http or https URL."})
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


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the token is shown once."""

    PREFIX = "lb_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(
        max_length=12, editable=False, help_text="The token's first characters."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str) -> tuple[ApiToken, str]:
        """Create a token for the user; return it with the secret, which is not kept."""
        secret = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_hash=cls.hash(secret), hint=secret[:8])
        return token, secret

    @classmethod
    def authenticate(cls, secret: str):
        """The active user behind a token, or None. Revoked tokens fail at once."""
        if not secret.startswith(cls.PREFIX) or len(secret) > 200:
            return None
        token = (
            cls.objects.active().select_related("user").filter(key_hash=cls.hash(secret)).first()
        )
        if token is None or not token.user.is_active:
            return None
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
