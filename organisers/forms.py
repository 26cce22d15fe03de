"""The organisers' forms: sessions in the event's own time, speakers, blogger accounts."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from accounts.roles import BLOGGERS, ensure_groups
from events.models import Event
from sessions.models import Session, Speaker

LOCAL_INPUT = "%Y-%m-%dT%H:%M"


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker; the view makes the event's zone current."""

    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format=LOCAL_INPUT)


def _unique_slug(queryset, base: str, exclude_pk: int | None) -> str:
    base = (base or "item")[:90].strip("-") or "item"
    taken = set(queryset.exclude(pk=exclude_pk).values_list("slug", flat=True))
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


class SessionForm(forms.ModelForm):
    """A session of one event; times are read and shown in the event's time zone."""

    class Meta:
        model = Session
        fields = [
            "title",
            "slug",
            "room",
            "starts_at",
            "ends_at",
            "speakers",
            "follows_schedule",
            "description",
        ]
        widgets = {
            "starts_at": LocalDateTimeInput(),
            "ends_at": LocalDateTimeInput(),
            "speakers": forms.CheckboxSelectMultiple,
            "description": forms.Textarea(attrs={"rows": 4}),
        }
        labels = {"follows_schedule": "Follows the schedule", "slug": "Address"}
        help_texts = {
            "slug": "Its address: letters, digits and hyphens. Left empty, made from the title.",
            "follows_schedule": "It goes live at its start and ends at its end by itself.",
        }

    def __init__(self, *args, event: Event, **kwargs) -> None:
        if kwargs.get("instance") is None:
            kwargs["instance"] = Session(event=event)
        super().__init__(*args, **kwargs)
        self.event = event
        self.fields["slug"].required = False
        for name in ("starts_at", "ends_at"):
            self.fields[name].input_formats = [LOCAL_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
            self.fields[name].help_text = f"In {event.time_zone}."
        # Everyone who speaks at this event, and anyone speaking nowhere yet.
        self.fields["speakers"].queryset = Speaker.objects.filter(
            pk__in=Speaker.objects.filter(sessions__event=event).values("pk")
        ) | Speaker.objects.filter(sessions__isnull=True)
        self.fields["speakers"].queryset = self.fields["speakers"].queryset.distinct()

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug") or slugify(self.data.get("title", ""))[:90]
        same = self.event.sessions.exclude(pk=self.instance.pk)
        if self.cleaned_data.get("slug") and same.filter(slug=slug).exists():
            raise ValidationError("Another session of this event has this address.")
        return _unique_slug(self.event.sessions, slug or "session", self.instance.pk)


class SpeakerForm(forms.ModelForm):
    class Meta:
        model = Speaker
        fields = ["name", "affiliation", "link"]

    def save(self, commit: bool = True) -> Speaker:
        speaker = super().save(commit=False)
        if not speaker.slug:
            speaker.slug = _unique_slug(Speaker.objects, slugify(speaker.name), None)
        if commit:
            speaker.save()
        return speaker


class BloggerAccountForm(forms.Form):
    """A new blogger: a password set now, or an invitation link to set it themselves."""

    HOW = [
        ("invite", "Send them an invitation link to set their own password"),
        ("password", "Set a password now"),
    ]

    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150, required=False, label="First name")
    last_name = forms.CharField(max_length=150, required=False, label="Last name")
    email = forms.EmailField(required=False)
    how = forms.ChoiceField(
        choices=HOW, initial="invite", widget=forms.RadioSelect, label="Their password"
    )
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        strip=False,
        help_text="Only when setting it now: at least 8 characters, not a common one.",
    )

    def clean_username(self) -> str:
        User = get_user_model()
        username = self.cleaned_data["username"]
        field = User._meta.get_field(User.USERNAME_FIELD)
        for validator in field.validators:
            validator(username)
        if User.objects.filter(**{f"{User.USERNAME_FIELD}__iexact": username}).exists():
            raise ValidationError("That username is taken: assign the existing account below.")
        return username

    def clean(self) -> dict:
        data = super().clean()
        if data.get("how") == "password":
            password = data.get("password")
            if not password:
                self.add_error("password", "Give a password, or send an invitation instead.")
            else:
                user = get_user_model()(
                    username=data.get("username", ""), email=data.get("email", "")
                )
                try:
                    password_validation.validate_password(password, user)
                except ValidationError as error:
                    self.add_error("password", error)
        return data

    def save(self):
        ensure_groups()
        data = self.cleaned_data
        user = get_user_model()(
            username=data["username"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            email=data["email"],
        )
        if data["how"] == "password":
            user.set_password(data["password"])
        else:
            user.set_unusable_password()
        user.save()
        user.groups.add(Group.objects.get(name=BLOGGERS))
        return user


class AssignForm(forms.Form):
    """Assign an existing account by its username."""

    username = forms.CharField(max_length=150, label="Username")

    def clean_username(self):
        User = get_user_model()
        name = self.cleaned_data["username"].strip()
        user = User.objects.filter(
            **{f"{User.USERNAME_FIELD}__iexact": name}, is_active=True
        ).first()
        if user is None:
            raise ValidationError(f"There is no active account {name!r}: add it first.")
        return user


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Programme file",
        help_text="frab schedule XML, pretalx schedule JSON, iCalendar (.ics) or CSV.",
    )
    prune = forms.BooleanField(
        required=False,
        label="Remove sessions gone from the file (never one that has entries)",
    )
