from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.validators import URLValidator

from entries.models import Entry
from liveblog.ratelimit import hit
from sessions.models import Session


class EntryForm(forms.ModelForm):
    """Compose or edit an entry. Speakers offered are the session's own."""

    source_url = forms.URLField(
        required=False,
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
        label="Source link",
        widget=forms.URLInput(attrs={"aria-describedby": "source-hint"}),
        help_text="Where the quote comes from, e.g. the writer's blog post.",
    )

    class Meta:
        model = Entry
        fields = [
            "kind",
            "body",
            "attribution_speaker",
            "attribution_name",
            "source_url",
            "key_moment",
        ]
        labels = {
            "attribution_speaker": "Speaker",
            "attribution_name": "Or someone else",
            "key_moment": "Key moment",
        }
        widgets = {
            "kind": forms.RadioSelect,
            "body": forms.Textarea(
                attrs={"rows": 4, "placeholder": "What's happening? Markdown works."}
            ),
        }

    def __init__(self, *args, session: Session, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session = session
        self.fields["body"].max_length = settings.ENTRY_BODY_MAX_LENGTH
        self.fields["body"].widget.attrs["maxlength"] = settings.ENTRY_BODY_MAX_LENGTH
        self.fields["body"].validators.append(
            forms.fields.validators.MaxLengthValidator(settings.ENTRY_BODY_MAX_LENGTH)
        )
        self.fields["attribution_speaker"].queryset = session.speakers.all()
        self.fields["attribution_speaker"].empty_label = "— choose a speaker —"
        self.fields["attribution_name"].widget.attrs["placeholder"] = (
            "e.g. Alan Patrick, Broadstuff"
        )

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError("Write something before posting.")
        if "\x00" in body:
            raise forms.ValidationError("The text contains a NUL character.")
        return body

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("kind") == Entry.Kind.QUOTE:
            speaker = cleaned.get("attribution_speaker")
            name = (cleaned.get("attribution_name") or "").strip()
            if not speaker and not name:
                raise forms.ValidationError(
                    "A quote needs attribution: pick one of the session's speakers or name "
                    "who said or wrote it."
                )
            if speaker and name:
                self.add_error("attribution_name", "Pick a speaker or type a name, not both.")
        return cleaned

    def save_entry(self, *, author=None, idempotency_key: str | None = None) -> Entry:
        """Publish a new entry, or record an edit, through the model's change methods."""
        # EntryForm's own fields: the admin's subclass lists its read-only fields too.
        fields = {name: self.cleaned_data[name] for name in EntryForm.Meta.fields}
        if self.instance.pk is None:
            # One limit for every door that posts (console, API): a runaway script or a
            # stuck client cannot flood a session.
            hit(f"post:{author.pk}", limit=settings.RATE_LIMIT_POSTS, window=60)
            return Entry.post(
                session=self.session, author=author, idempotency_key=idempotency_key, **fields
            )
        self.instance.edit(**fields)
        return self.instance
