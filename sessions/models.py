from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from events.models import organises
from liveblog.validators import HttpURLField

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Speaker(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    # The person's id in an imported programme, scoped by the event slug ("36c3/9891"):
    # frab and pretalx number people per instance, so a bare "26" would clash across events.
    external_id = models.CharField(max_length=200, blank=True, default="")
    affiliation = models.CharField(max_length=200, blank=True)
    # Rendered as a link on the speaker's page: http and https only.
    link = HttpURLField(blank=True, help_text="Their site or profile (http or https).")

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

    def blogged_by(self, user) -> SessionQuerySet:
        """The sessions this user is assigned to, one by one or through their whole event."""
        return self.filter(Q(bloggers=user) | Q(event__bloggers=user)).distinct()

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
    # The clock (entries.clock, `run_clock`) starts it at starts_at and ends it at ends_at.
    follows_schedule = models.BooleanField(
        default=False,
        help_text="Goes live at its start and ends at its end by itself.",
    )
    bloggers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="blogged_sessions"
    )
    # The stream: every change in the session takes the next number (see allocate_seq).
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)
    status_seq = models.PositiveBigIntegerField(default=0, editable=False)
    # When it last ended: bloggers may post wrap-ups for SESSION_WRAP_UP_HOURS after it.
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)

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

    def is_organised_by(self, user: AbstractBaseUser | AnonymousUser | None) -> bool:
        """Does this user run the session's event (or its series): asked once per instance."""
        if user is None or not user.is_authenticated:
            return False
        answers = self.__dict__.setdefault("_organised_by", {})
        if user.pk not in answers:
            answers[user.pk] = organises(user, self.event)
        return answers[user.pk]

    def can_blog(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        if not user.is_authenticated or not user.is_active:
            return False
        if self.is_organised_by(user):
            return True
        # Assigned to this session, or to its whole event.
        return (
            self.bloggers.filter(pk=user.pk).exists()
            or self.event.bloggers.filter(pk=user.pk).exists()
        )

    def allocate_seq(self) -> int:
        """Take the session's next sequence number; call inside the change's transaction.

        The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) first, so
        concurrent writers queue; a rolled-back change gives its number back.
        """
        assert transaction.get_connection().in_atomic_block, "allocate_seq needs a transaction"
        Session.objects.filter(pk=self.pk).update(last_seq=F("last_seq") + 1)
        self.last_seq = Session.objects.filter(pk=self.pk).values_list("last_seq", flat=True).get()
        return self.last_seq

    def wrap_up_ends_at(self) -> dt.datetime | None:
        """Until when bloggers may still post after the session ended (None: not ended)."""
        if self.status != self.Status.ENDED or self.ended_at is None:
            return None
        return self.ended_at + dt.timedelta(hours=settings.SESSION_WRAP_UP_HOURS)

    def closed_to(self, user: AbstractBaseUser | AnonymousUser | None) -> str | None:
        """Why this user may no longer post or change entries here, or None if they may.

        Bloggers post before (previews), during, and for a while after the session (wrap-
        ups are common); after that the record is the organisers' to correct. No user
        means the system itself (the clock, a command), which is never refused.
        """
        closes = self.wrap_up_ends_at()
        if closes is None or timezone.now() < closes or user is None or self.is_organised_by(user):
            return None
        return (
            f"This session ended {settings.SESSION_WRAP_UP_HOURS} hours or more ago, and "
            "its wrap-up time is over: ask an organiser to reopen it."
        )

    def status_change_refused(
        self, status: str, user: AbstractBaseUser | AnonymousUser | None
    ) -> str | None:
        """Why this user may not move the session to `status`, or None if they may.

        upcoming → live → ended, or upcoming → ended for a talk that never ran; an ended
        session reopens (→ live) for organisers, and for its bloggers while they may still
        post. Nothing goes back to upcoming.
        """
        if status not in self.Status.values:
            return "The status must be one of: upcoming, live, ended."
        if status == self.status:
            return None
        if status == self.Status.UPCOMING:
            return "A session that has started or ended cannot go back to upcoming."
        if status == self.Status.LIVE and self.status == self.Status.ENDED:
            return self.closed_to(user)
        return None
