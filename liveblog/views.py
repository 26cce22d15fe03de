from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.defaults import permission_denied as default_permission_denied


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """htmx callers get the reason as plain text, to show beside the control they used."""
    if getattr(request, "htmx", False):
        message = str(exception) or "You may not do that."
        return HttpResponseForbidden(message, content_type="text/plain; charset=utf-8")
    return default_permission_denied(request, exception)
