"""Readers' questions: sent to a live session, waiting for a blogger's approval.

A question is never shown to readers as such: approved, it becomes an entry of the
session's stream (entries.actions.post_question); pending or rejected, only the session's
bloggers and its event's organisers see it (questions.views, questions.api).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone

from liveblog.validators import refuse_unstorable_text


class QuestionQuerySet(models.QuerySet["Question"]):
    def pending(self) -> QuestionQuerySet:
        return self.filter(status=Question.Status.PENDING)

    def counts_by_session(self, session_ids) -> dict[int, dict[str, int]]:
        """{session id: {"pending": n, "approved": n, "rejected": n, "total": n}}, for
        dashboards: one query whatever the number of sessions; sessions with none absent."""
        rows = (
            self.filter(session_id__in=list(session_ids))
            .values("session_id")
            .annotate(
                total=Count("pk"),
                **{
                    status: Count("pk", filter=Q(status=status))
                    for status in Question.Status.values
                },
            )
        )
        return {
            row["session_id"]: {name: row[name] for name in ("total", *Question.Status.values)}
            for row in rows
        }


class Question(models.Model):
    """A reader's question or comment to a session, in the bloggers' queue until decided."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    session = models.ForeignKey("talks.Session", on_delete=models.CASCADE, related_name="questions")
    # Blank and wide here: Question.clean holds the rules (and says them once, in words).
    name = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Who sent it, as the rate limit knows them: a keyed hash of the address, never the
    # address itself (questions.moderation.address_hash).
    address_hash = models.CharField(max_length=64, blank=True, editable=False)
    # The decision: who, when, the answer given and the entry it became.
    answer = models.TextField(blank=True)
    entry = models.OneToOneField(
        "entries.Entry",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="question",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["session", "status", "created_at"])]

    def __str__(self) -> str:
        return f"Question #{self.pk} from {self.name} ({self.status})"

    def clean(self) -> None:
        """The rules for a question, for every door (the session page, the API)."""
        errors: dict[str, list[str]] = {}
        for field in ("name", "body", "answer"):
            value = getattr(self, field)
            if not isinstance(value, str):
                continue  # None: clean_fields' to refuse
            try:
                refuse_unstorable_text(value)
            except ValidationError as error:
                errors.setdefault(field, []).extend(error.messages)
            setattr(self, field, value.strip())
        name_limit = settings.QUESTION_NAME_MAX_LENGTH
        if isinstance(self.name, str):
            if "name" not in errors and not self.name:
                errors["name"] = ["Give a name to sign your question with."]
            elif len(self.name) > name_limit:
                errors["name"] = [
                    f"A name is at most {name_limit} characters (this one is {len(self.name):,})."
                ]
        body_limit = settings.QUESTION_BODY_MAX_LENGTH
        if isinstance(self.body, str):
            if "body" not in errors and not self.body:
                errors["body"] = ["Write your question or comment before sending it."]
            elif len(self.body) > body_limit:
                errors["body"] = [
                    f"A question is at most {body_limit:,} characters "
                    f"(this one is {len(self.body):,})."
                ]
        answer_limit = settings.ENTRY_BODY_MAX_LENGTH
        if isinstance(self.answer, str) and len(self.answer) > answer_limit:
            errors["answer"] = [
                f"An answer is at most {answer_limit:,} characters "
                f"(this one is {len(self.answer):,})."
            ]
        if errors:
            raise ValidationError(errors)
