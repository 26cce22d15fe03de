"""Invitation links for new bloggers: single-use, expiring, no table of their own.

Django's password-reset token, under its own salt: it is signed with SECRET_KEY, carries
its time (it expires after PASSWORD_RESET_TIMEOUT, three days by default) and hashes the
user's password, so it stops working the moment the blogger sets one (single use).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from liveblog.ids import parse_id


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "organisers.invitations.InvitationTokenGenerator"


invitations = InvitationTokenGenerator()


def invitation_path(user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("organisers:invitation", args=[uid, invitations.make_token(user)])


def invited_user(uidb64: str, token: str):
    """The user this link invites, or None if it is malformed, used or expired."""
    try:
        pk = parse_id(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, UnicodeDecodeError):
        return None
    if pk is None:
        return None
    user = get_user_model().objects.filter(pk=pk, is_active=True).first()
    if user is None or not invitations.check_token(user, token):
        return None
    return user
