from __future__ import annotations

from django import forms
from django.conf import settings

from entries import actions
from entries.models import NOT_THIS_SESSIONS_SPEAKER, Entry
from sessions.models import Session


class EntryForm(forms.ModelForm):
    """Compose or edit an entry in the console. The rules are the model's (Entry.clean),
    the same for the API; the speakers offered are the session's own."""

    class Meta:
        model = Entry
        fields = [*actions.ENTRY_FIELDS, "key_moment"]
        labels = {
            "attribution_speaker": "Speaker",
            "attribution_name": "Or someone else",
            "source_url": "Source link",
            "publication": "Publication or handle",
            "published_on": "Date",
            "alt": "Alt text",
            "key_moment": "Key moment",
        }
        help_texts = {
            "source_url": "Where the quote comes from, e.g. the writer's blog post.",
            "alt": "What the photo shows, for readers who cannot see it.",
        }
        widgets = {
            "kind": forms.RadioSelect,
            "body": forms.Textarea(
                attrs={"rows": 4, "placeholder": "What's happening? Markdown works."}
            ),
            "source_url": forms.URLInput(attrs={"aria-describedby": "source-hint"}),
            "published_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "alt": forms.TextInput(attrs={"aria-describedby": "alt-hint"}),
        }
        error_messages = {
            "body": {"required": "Write something before posting."},
            "attribution_speaker": {"invalid_choice": NOT_THIS_SESSIONS_SPEAKER},
        }

    def __init__(self, *args, session: Session, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session = session
        self.instance.session = session
        if "body" not in self.fields:
            return  # the admin's form for a hidden entry: every field is read-only
        self.fields["body"].widget.attrs["maxlength"] = settings.ENTRY_BODY_MAX_LENGTH
        self.fields["attribution_speaker"].queryset = session.speakers.all()
        self.fields["attribution_speaker"].empty_label = "— choose a speaker —"
        self.fields["attribution_name"].widget.attrs["placeholder"] = "e.g. Alan Patrick"
        self.fields["publication"].widget.attrs["placeholder"] = "e.g. Broadstuff, or @handle"
        # A photo stays a photo, and nothing else becomes one here (photos come with their
        # image, through the photo form): the kinds offered follow.
        self.is_photo = self.instance.kind == Entry.Kind.PHOTO and self.instance.photo_id
        # A reader's question likewise comes only through approval (the questions app).
        is_question = self.instance.kind == Entry.Kind.QUESTION and self.instance.pk
        kinds = [
            (value, label)
            for value, label in Entry.Kind.choices
            if (value == Entry.Kind.PHOTO) == bool(self.is_photo)
            and (value == Entry.Kind.QUESTION) == bool(is_question)
        ]
        self.fields["kind"].choices = kinds
        self.fields["kind"].widget.choices = kinds
        if self.is_photo:
            self.fields["body"].label = "Caption"
            self.fields["alt"].required = True

    def changes(self) -> dict:
        """The entry's fields as the blogger left them, for the actions."""
        fields = EntryForm.Meta.fields  # the admin's subclass adds read-only ones
        return {name: self.cleaned_data[name] for name in fields if name in self.cleaned_data}

    def publish(self, *, author, idempotency_key: str | None = None) -> Entry:
        fields = self.changes()
        fields.pop("alt", None)  # a photo's: photos come through their own form
        return actions.post_entry(
            session=self.session, author=author, idempotency_key=idempotency_key, **fields
        )

    def apply_edit(self, by=None) -> bool:
        return actions.edit_entry(entry=self.instance, by=by, **self.changes())
