from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models, transaction
from django.db.models import F
from django.urls import reverse
from django.utils.functional import cached_property

from entries import broadcast

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def is_organiser(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Organisers run the event: they may moderate and blog in every session."""
    return bool(user.is_active and user.has_perm("entries.moderate_entry"))


class Speaker(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    # The person's id in an imported programme, scoped by the event slug ("36c3/9891"):
    # frab and pretalx number people per instance, so a bare "26" would clash across events.
    external_id = models.CharField(max_length=200, blank=True, default="")
    affiliation = models.CharField(max_length=200, blank=True)
    # Rendered as a link on the speaker's page: http and https only (Django's default
    # schemes also let ftp and ftps through).
    link = models.URLField(
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Their site or profile (http or https).",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~models.Q(external_id=""),
                name="speaker_external_id_unique",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("talks:speaker", kwargs={"slug": self.slug})


class SessionQuerySet(models.QuerySet["Session"]):
    def live(self) -> SessionQuerySet:
        return self.filter(status=Session.Status.LIVE)

    def upcoming(self) -> SessionQuerySet:
        return self.filter(status=Session.Status.UPCOMING)

    def for_listing(self) -> SessionQuerySet:
        return self.select_related("event").prefetch_related("speakers")


class Session(models.Model):
    """A talk or panel at an event, blogged live by its assigned bloggers."""

    class Status(models.TextChoices):
        UPCOMING = "upcoming", "Upcoming"
        LIVE = "live", "Live"
        ENDED = "ended", "Ended"

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="sessions")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100)
    # The session's own id in an imported programme (frab guid, iCalendar UID, pretalx
    # code, CSV id): a re-import matches on it, never on the title ("Lunch" every day).
    external_id = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True)
    speakers = models.ManyToManyField(Speaker, blank=True, related_name="sessions")
    room = models.CharField(max_length=100, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPCOMING)
    bloggers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="blogged_sessions"
    )
    # The stream: every change in the session takes the next number (see allocate_seq).
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)
    status_seq = models.PositiveBigIntegerField(default=0, editable=False)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "title"]
        constraints = [
            models.UniqueConstraint(fields=["event", "slug"], name="session_slug_unique_per_event"),
            models.UniqueConstraint(
                fields=["event", "external_id"],
                condition=~models.Q(external_id=""),
                name="session_external_id_unique_per_event",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("entries:session", kwargs={"event": self.event.slug, "slug": self.slug})

    def get_entry_url(self, entry_id: int) -> str:
        """An entry's own page (entries:entry), its prefix worked out once per instance."""
        return f"{self._entry_url_prefix}{entry_id}/"

    @cached_property
    def _entry_url_prefix(self) -> str:
        kwargs = {"event": self.event.slug, "slug": self.slug, "pk": 0}
        return reverse("entries:entry", kwargs=kwargs).removesuffix("0/")

    def get_console_url(self) -> str:
        return reverse("entries:console", kwargs={"event": self.event.slug, "slug": self.slug})

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at < self.starts_at:
            raise ValidationError({"ends_at": "A session cannot end before it starts."})

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.LIVE

    @property
    def group_name(self) -> str:
        return broadcast.group_name(self.pk)

    def can_blog(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        if not user.is_authenticated or not user.is_active:
            return False
        if is_organiser(user):
            return True
        return self.bloggers.filter(pk=user.pk).exists()

    def allocate_seq(self) -> int:
        """Take the session's next sequence number; call inside the change's transaction.

        The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) first, so
        concurrent writers queue; a rolled-back change gives its number back.
        """
        assert transaction.get_connection().in_atomic_block, "allocate_seq needs a transaction"
        Session.objects.filter(pk=self.pk).update(last_seq=F("last_seq") + 1)
        self.last_seq = Session.objects.filter(pk=self.pk).values_list("last_seq", flat=True).get()
        return self.last_seq

    def set_status(self, status: str) -> bool:
        """Start or end the session; readers see the change live. False if nothing changed."""
        if status not in self.Status.values:
            raise ValueError(f"unknown status {status!r}")
        with transaction.atomic():
            locked = Session.objects.select_for_update().get(pk=self.pk)
            if locked.status == status:
                return False
            self.status = status
            self.status_seq = self.allocate_seq()
            self.save(update_fields=["status", "status_seq"])
            broadcast.session_status_changed(self)
        return True
