"""Validators that every app shares (a leaf: it imports no app)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models

# NUL (PostgreSQL refuses it in text) and lone UTF-16 surrogates (no database can store
# them: they are not characters), which a JSON body can spell as "\u0000" or "\ud800".
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def refuse_unstorable_text(value: str) -> None:
    match = _UNSTORABLE.search(value or "")
    if match is None:
        return
    if match.group() == "\x00":
        raise ValidationError("The text contains a NUL character.", code="nul")
    code_point = f"\\u{ord(match.group()):04x}"
    raise ValidationError(
        f"The text contains a lone UTF-16 surrogate ({code_point}), which is not a character.",
        code="surrogate",
    )


INVALID_URL = "Enter a whole web address, e.g. https://example.com/post."
_http_url = URLValidator(schemes=["http", "https"], message=INVALID_URL)


def validate_http_url(value: str) -> None:
    """http and https only: links are rendered into href, where other schemes can run code."""
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:  # e.g. a bracketed host that is no IPv6 address
        raise ValidationError(INVALID_URL, code="invalid") from None
    if scheme and scheme not in {"http", "https"}:
        raise ValidationError(
            "Only http and https links are allowed (this one starts with %(scheme)s:).",
            code="scheme",
            params={"scheme": scheme[:20]},
        )
    _http_url(value)


class HttpURLFormField(forms.URLField):
    """A URL form field that says once, and plainly, why a link was refused."""

    default_validators = [validate_http_url]
    default_error_messages = {"invalid": INVALID_URL}

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("assume_scheme", "https")
        super().__init__(**kwargs)


class HttpURLField(models.URLField):
    """A URL that may be shown as a link: http or https, one clear message otherwise."""

    default_validators = [validate_http_url]

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": HttpURLFormField, **kwargs})
