from __future__ import annotations

from django import forms
from django.conf import settings


class QuestionForm(forms.Form):
    """A reader's question on the session page. The rules are the model's (Question.clean),
    the same for the API: this form only shapes the page's fields."""

    name = forms.CharField(
        label="Your name",
        required=False,
        help_text="Shown with your question if it is approved.",
    )
    body = forms.CharField(
        label="Your question or comment",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "question-%s")
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            # Question.clean says what is wrong (a NUL too), as it does for the API.
            field.validators = []
            field.strip = False
        self.fields["name"].widget.attrs.update(
            maxlength=settings.QUESTION_NAME_MAX_LENGTH, autocomplete="nickname", required=True
        )
        self.fields["body"].widget.attrs.update(
            maxlength=settings.QUESTION_BODY_MAX_LENGTH, required=True
        )


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label="Answer (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
