"""Organisers run their own events (or series), and nobody else's, on every door."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Event, Series, organises
from sessions.models import Session


@pytest.fixture
def nyc_session(new_york):
    starts = timezone.now() - dt.timedelta(minutes=5)
    return Session.objects.create(
        event=new_york,
        title="Brands in public",
        slug="brands",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
        status=Session.Status.LIVE,
    )


def test_an_organiser_organises_their_event_and_not_another(organiser, event, new_york):
    assert organises(organiser, event)
    assert not organises(organiser, new_york)


def test_a_series_organiser_organises_every_event_of_the_series(django_user_model, event, new_york):
    series = Series.objects.create(name="Social Media Week 2026", slug="smw-2026", hashtag="#SMW")
    Event.objects.filter(pk__in=[event.pk, new_york.pk]).update(series=series)
    event.refresh_from_db()
    new_york.refresh_from_db()
    chief = django_user_model.objects.create_user("chief")
    series.organisers.add(chief)
    assert organises(chief, event) and organises(chief, new_york)
    assert set(Event.objects.organised_by(chief)) == {event, new_york}


def test_superusers_organise_everything_and_inactive_users_nothing(
    django_user_model, organiser, event
):
    root = django_user_model.objects.create_superuser("root", "r@example.com", "x")
    assert organises(root, event)
    organiser.is_active = False
    assert not organises(organiser, event)


def test_an_organiser_of_another_city_sees_none_of_this_citys_admin_lists(
    client, nyc_organiser, session, entry, nyc_session
):
    client.force_login(nyc_organiser)
    sessions = client.get(reverse("admin:talks_session_changelist"))
    assert "Brands in public" in sessions.text and "Like Minds" not in sessions.text
    entries = client.get(reverse("admin:entries_entry_changelist"))
    assert "Scott Gould" not in entries.text
    events = client.get(reverse("admin:events_event_changelist"))
    assert "New York" in events.text and "London" not in events.text
    change = client.get(reverse("admin:talks_session_change", args=[session.pk]))
    assert change.status_code == 302 and "login" not in change["Location"]


def test_a_new_session_in_the_admin_goes_only_into_an_event_the_organiser_runs(
    client, nyc_organiser, event, new_york
):
    client.force_login(nyc_organiser)
    page = client.get(reverse("admin:talks_session_add"))
    form_event = page.context["adminform"].form.fields["event"]
    assert list(form_event.queryset) == [new_york]


def test_the_demo_seeds_two_cities_in_a_series_with_an_organiser_each(db):
    from django.core.management import call_command

    call_command("seed_demo", stdout=None)
    call_command("seed_demo")  # again: nothing new
    series = Series.objects.get(slug="smw-2026")
    london, new_york = (Event.objects.get(slug=s) for s in ("smw-london-2026", "smw-new-york-2026"))
    assert {london, new_york} == set(series.events.all())
    assert new_york.time_zone == "America/New_York"
    assert [u.username for u in london.organisers.all()] == ["organiser"]
    assert [u.username for u in new_york.organisers.all()] == ["organiser-nyc"]
    assert new_york.sessions.live().count() == 1 and new_york.sessions.count() == 3
    assert new_york.sessions.filter(follows_schedule=True).exists()
    nyc = new_york.organisers.get()
    assert not organises(nyc, london)


def test_an_event_an_organiser_creates_in_the_admin_is_theirs(client, nyc_organiser):
    client.force_login(nyc_organiser)
    data = {
        "name": "Social Media Week Lagos",
        "slug": "smw-lagos",
        "city": "Lagos",
        "time_zone": "Africa/Lagos",
        "starts_on": "2026-11-23",
        "ends_on": "2026-11-27",
        "sessions-TOTAL_FORMS": "0",
        "sessions-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("admin:events_event_add"), data)
    assert response.status_code == 302, response.content[:2000]
    lagos = Event.objects.get(slug="smw-lagos")
    assert organises(nyc_organiser, lagos)


def test_series_are_the_superusers_to_create_and_their_organisers_to_correct(
    client, nyc_organiser, organiser
):
    series = Series.objects.create(name="SMW", slug="smw", hashtag="#SMW")
    series.organisers.add(nyc_organiser)
    client.force_login(organiser)
    assert client.get(reverse("admin:events_series_change", args=[series.pk])).status_code == 302
    assert client.get(reverse("admin:events_series_add")).status_code == 403
    client.force_login(nyc_organiser)
    page = client.get(reverse("admin:events_series_change", args=[series.pk]))
    assert page.status_code == 200
