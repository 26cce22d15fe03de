"""The reader's question form on the session page, and the bloggers' queue in the console.

Sending a question is open to anyone and exempt from CSRF: it acts for no one (no account,
no cookie is read), so a forged request could do nothing that a direct one cannot, and the
session page, the same for every anonymous reader, needs no token in it (it may be cached
publicly: docs/deploy.md). The rate limit per address (questions.moderation) bounds it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from entries.permissions import NOT_ASSIGNED, require_blogger
from liveblog.ratelimit import RateLimited, client_address
from questions import moderation
from questions.forms import AnswerForm, QuestionForm
from questions.models import Question
from sessions.models import Session

SENT = "Sent — it appears if the blogger approves it."


def _get_session(event: str, slug: str) -> Session:
    return get_object_or_404(Session.objects.select_related("event"), event__slug=event, slug=slug)


def _ask(request: HttpRequest, session: Session, form: QuestionForm, status: int, **extra):
    context = {"session": session, "event": session.event, "form": form, **extra}
    template = "questions/partials/ask.html" if request.htmx else "questions/ask.html"
    return render(request, template, context, status=status)


@csrf_exempt
@require_POST
def ask(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    """A reader sends a question: it waits for the bloggers, and readers see nothing yet."""
    session = _get_session(event, slug)
    form = QuestionForm(request.POST)
    form.is_valid()  # both fields optional here: the rules are Question.clean's
    data = form.cleaned_data
    try:
        moderation.submit(
            session=session,
            name=data.get("name", ""),
            body=data.get("body", ""),
            address=client_address(request),
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _ask(request, session, form, 422)
    except moderation.QuestionRefused as refusal:
        return _ask(request, session, form, refusal.status, refusal=str(refusal))
    except RateLimited as limited:
        response = _ask(request, session, form, 429, refusal=str(limited))
        response["Retry-After"] = str(limited.retry_after)
        return response
    return _ask(request, session, QuestionForm(), 200, sent=SENT)


def _get_session_for_queue(request: HttpRequest, event: str, slug: str) -> Session:
    session = _get_session(event, slug)
    if not session.can_blog(request.user):
        raise PermissionDenied(NOT_ASSIGNED)
    return session


def _queue_context(session: Session, after: int = 0) -> dict:
    pending = session.questions.pending()
    return {
        "session": session,
        "event": session.event,
        "questions": list(pending.filter(pk__gt=after)),
        "pending_count": pending.count(),
        "last_id": session.questions.order_by("-pk").values_list("pk", flat=True).first() or 0,
        "poll_seconds": settings.QUESTIONS_POLL_SECONDS,
        "answer_form": AnswerForm(),
    }


@login_required
@require_GET
def queue(request: HttpRequest, event: str, slug: str) -> HttpResponse:
    """The questions waiting: the console's panel (htmx asks every few seconds for those
    after `after`), or a page of its own without JavaScript."""
    session = _get_session_for_queue(request, event, slug)
    after = request.GET.get("after", "")
    if request.htmx and after.isascii() and after.isdigit() and len(after) <= 18:
        context = _queue_context(session, after=int(after))
        return render(request, "questions/partials/queue_poll.html", context)
    context = _queue_context(session)
    if request.htmx:
        return render(request, "questions/partials/queue.html", context)
    return render(request, "questions/queue.html", context)


def _get_question_for_moderator(request: HttpRequest, pk: int) -> Question:
    question = get_object_or_404(Question.objects.select_related("session__event"), pk=pk)
    require_blogger(request.user, question.session)
    return question


def _decided(request: HttpRequest, question: Question, message: str, status: int = 200):
    if request.htmx:
        return render(
            request,
            "questions/partials/decided.html",
            {"question": question, "message": message},
            status=status,
        )
    if status != 200:
        return render(request, "entries/refused.html", {"reason": message}, status=status)
    session = question.session
    return redirect("questions:queue", event=session.event.slug, slug=session.slug)


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@login_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    question = _get_question_for_moderator(request, pk)
    form = AnswerForm(request.POST)
    form.is_valid()
    try:
        moderation.approve(question=question, by=request.user, answer=form.cleaned_data["answer"])
    except ValidationError as error:
        return (
            _text(" ".join(error.messages), 422)
            if request.htmx
            else _decided(request, question, " ".join(error.messages), 422)
        )
    except moderation.QuestionRefused as refusal:
        if request.htmx:
            return _text(str(refusal), refusal.status)
        return _decided(request, question, str(refusal), refusal.status)
    return _decided(request, question, "Approved: it is in the stream.")


@login_required
@require_POST
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    question = _get_question_for_moderator(request, pk)
    try:
        moderation.reject(question=question, by=request.user)
    except moderation.QuestionRefused as refusal:
        if request.htmx:
            return _text(str(refusal), refusal.status)
        return _decided(request, question, str(refusal), refusal.status)
    return _decided(request, question, "Rejected: readers will never see it.")
