from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class ApiBodyLimitMiddleware:
    """Refuse an API request whose declared body is too large, before reading it (413)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
            if length > settings.API_MAX_REQUEST_BYTES:
                return JsonResponse(
                    {"detail": f"The request body is over {settings.API_MAX_REQUEST_BYTES} bytes."},
                    status=413,
                )
        return self.get_response(request)
