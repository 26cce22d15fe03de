"""How the API knows who writes: a personal token, or the browser's login."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from accounts.models import ApiToken
from liveblog.ratelimit import hit


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = ApiToken.authenticate(token)
        if user is not None:
            request.user = user
            key = ApiToken.hash(token)[:24]
            hit(
                f"api:{key}",
                limit=settings.RATE_LIMIT_API,
                window=60,
                message="This token has made more than {limit} API calls in a minute: "
                "wait {retry_after} seconds.",
            )
        return user


class BrowserSession(SessionAuth):
    """The browser's login, CSRF-checked. A request with no session cookie at all (a script
    without its token) is unauthenticated, 401, rather than refused for a missing CSRF token."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)


# Every write operation takes either.
WRITE_AUTH = [BearerToken(), BrowserSession()]
