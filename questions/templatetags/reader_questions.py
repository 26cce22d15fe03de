from __future__ import annotations

from django import template

from questions.forms import QuestionForm

register = template.Library()


@register.inclusion_tag("questions/partials/ask.html")
def ask_form(session) -> dict:
    """The session page's question form (for a live session; the page decides)."""
    return {"session": session, "event": session.event, "form": QuestionForm()}


@register.inclusion_tag("questions/partials/queue_loader.html")
def question_queue(session) -> dict:
    """The console's queue panel: filled and kept fresh by htmx, a link without it."""
    return {"session": session, "event": session.event}
