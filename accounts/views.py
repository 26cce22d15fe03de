from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import ApiToken


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """The user's API tokens: create one (shown once) or revoke one."""
    new_secret = None
    error = None
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        if not name or len(name) > 100:
            error = "Give the token a name of 1 to 100 characters, e.g. “phone”."
        elif "\x00" in name:
            error = "The name contains a NUL character."
        else:
            _, new_secret = ApiToken.issue(request.user, name)
    tokens = request.user.api_tokens.all()
    return render(
        request,
        "accounts/profile.html",
        {"tokens": tokens, "new_secret": new_secret, "error": error},
        status=422 if error else 200,
    )


@login_required
@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.revoke()
    return redirect("accounts:profile")
