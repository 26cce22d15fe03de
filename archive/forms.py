from __future__ import annotations

from django import forms

from archive import search
from archive.models import Summary
from events.models import Event
from sessions.models import Session, Speaker

TYPE_CHOICES = [
    ("", "Everything"),
    ("entry", "Updates"),
    ("quote", "Quotes"),
    ("session", "Sessions"),
    ("speaker", "Speakers"),
]


class SearchForm(forms.Form):
    """The reader's search: words, and the filters that narrow it."""

    q = forms.CharField(label="Search for", max_length=search.MAX_QUERY_LENGTH, required=False)
    event = forms.ModelChoiceField(
        Event.objects.all(), to_field_name="slug", required=False, empty_label="Any event"
    )
    session = forms.ModelChoiceField(
        Session.objects.select_related("event"), required=False, widget=forms.HiddenInput
    )
    speaker = forms.ModelChoiceField(
        Speaker.objects.all(), to_field_name="slug", required=False, widget=forms.HiddenInput
    )
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    type = forms.ChoiceField(label="Show", choices=TYPE_CHOICES, required=False)

    def query(self) -> search.Query:
        data = self.cleaned_data
        try:
            return search.query_for(
                data["q"],
                event=data["event"],
                session=data["session"],
                speaker=data["speaker"],
                since=data["since"],
                until=data["until"],
                types=[data["type"]] if data["type"] else None,
            )
        except search.SearchError as error:
            self.add_error(None, str(error))
            raise


class SummaryForm(forms.ModelForm):
    class Meta:
        model = Summary
        fields = ["body"]
        labels = {"body": "Summary"}
        widgets = {"body": forms.Textarea(attrs={"rows": 6})}
