"""Bloggers: new accounts (a password, or an invitation link), assigned per event or session."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from organisers.forms import AssignForm, BloggerAccountForm
from organisers.invitations import invitation_path, invited_user
from organisers.views import get_event_for_organiser, get_session_of


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


@login_required
@require_http_methods(["GET", "POST"])
def bloggers(request: HttpRequest, slug: str) -> HttpResponse:
    """The event's bloggers: add an account, assign one to the whole event, remove one."""
    event = get_event_for_organiser(request, slug)
    account = BloggerAccountForm(request.POST if "add_account" in request.POST else None)
    assign = AssignForm(request.POST if "assign" in request.POST else None, prefix="event")
    invitation = None
    if request.method == "POST" and "add_account" in request.POST and account.is_valid():
        user = account.save()
        event.bloggers.add(user)
        if account.cleaned_data["how"] == "invite":
            invitation = request.build_absolute_uri(invitation_path(user))
            messages.success(request, f"Added {user.get_username()} to {event.name}.")
        else:
            messages.success(
                request, f"Added {user.get_username()} to {event.name}; they can log in now."
            )
            return redirect("organisers:bloggers", slug=event.slug)
        account = BloggerAccountForm()
    elif request.method == "POST" and "assign" in request.POST and assign.is_valid():
        user = assign.cleaned_data["username"]
        event.bloggers.add(user)
        messages.success(request, f"{user.get_username()} may now blog every session here.")
        return redirect("organisers:bloggers", slug=event.slug)
    per_session = (
        get_user_model()
        .objects.filter(blogged_sessions__event=event)
        .distinct()
        .prefetch_related("blogged_sessions")
    )
    errors = account.errors or assign.errors
    return render(
        request,
        "organisers/bloggers.html",
        {
            "event": event,
            "event_bloggers": event.bloggers.all(),
            "per_session": [
                (user, [s for s in user.blogged_sessions.all() if s.event_id == event.pk])
                for user in per_session
            ],
            "account": account,
            "assign": assign,
            "invitation": invitation,
            "invitation_days": settings.PASSWORD_RESET_TIMEOUT // 86400,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def remove_event_blogger(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    event = get_event_for_organiser(request, slug)
    user = get_object_or_404(event.bloggers, pk=user_id)
    event.bloggers.remove(user)
    if _is_htmx(request):
        return HttpResponse("")
    messages.success(request, f"{user.get_username()} no longer blogs all of {event.name}.")
    return redirect("organisers:bloggers", slug=event.slug)


@login_required
@require_POST
def invite_again(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    """A fresh link for a blogger of this event who has not set a password yet."""
    event = get_event_for_organiser(request, slug)
    user = get_object_or_404(event.bloggers, pk=user_id)
    if user.has_usable_password():
        messages.error(request, f"{user.get_username()} has set a password already.")
        return redirect("organisers:bloggers", slug=event.slug)
    link = request.build_absolute_uri(invitation_path(user))
    messages.success(request, f"A new invitation for {user.get_username()}: {link}")
    return redirect("organisers:bloggers", slug=event.slug)


@login_required
@require_POST
def assign_session_blogger(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    event = get_event_for_organiser(request, slug)
    session = get_session_of(event, pk)
    form = AssignForm(request.POST, prefix="session")
    if form.is_valid():
        user = form.cleaned_data["username"]
        session.bloggers.add(user)
        messages.success(request, f"{user.get_username()} may now blog “{session.title}”.")
    else:
        messages.error(request, " ".join(form.errors.get("username", ["Give a username."])))
    return redirect("organisers:session", slug=event.slug, pk=session.pk)


@login_required
@require_POST
def remove_session_blogger(request: HttpRequest, slug: str, pk: int, user_id: int) -> HttpResponse:
    event = get_event_for_organiser(request, slug)
    session = get_session_of(event, pk)
    user = get_object_or_404(session.bloggers, pk=user_id)
    session.bloggers.remove(user)
    if _is_htmx(request):
        return HttpResponse("")
    messages.success(request, f"{user.get_username()} no longer blogs “{session.title}”.")
    return redirect("organisers:session", slug=event.slug, pk=session.pk)


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Where an invited blogger sets their password; the link then stops working."""
    user = invited_user(uidb64, token)
    if user is None:
        return render(request, "organisers/invitation.html", {"invalid": True}, status=404)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your password is set: log in with it.")
        return redirect("login")
    return render(
        request,
        "organisers/invitation.html",
        {"form": form, "invited": user},
        status=400 if form.errors else 200,
    )
