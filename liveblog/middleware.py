from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from liveblog.ratelimit import RateLimited


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


class RateLimitMiddleware:
    """Turn RateLimited, raised by any view, into a 429 with Retry-After."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, RateLimited):
            return None
        return too_many(request, exception)


def too_many(request: HttpRequest, exception: RateLimited) -> HttpResponse:
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": str(exception)}, status=429)
    else:
        response = HttpResponse(
            str(exception), status=429, content_type="text/plain; charset=utf-8"
        )
    response["Retry-After"] = str(exception.retry_after)
    return response
