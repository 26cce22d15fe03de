"""Create the Social Media Week 2026 demo (London and New York); running it again changes nothing."""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.roles import BLOGGERS, ORGANISERS, ensure_groups
from entries import actions
from events.models import Event, Series
from sessions.models import Session, Speaker

DEFAULT_DEMO_PASSWORD = "liveblog-demo"
LONDON = zoneinfo.ZoneInfo("Europe/London")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")

SPEAKERS = [
    (
        "euan-semple",
        "Euan Semple",
        "Author of Organizations Don't Tweet, People Do",
        "https://euansemple.com/",
    ),
    ("alan-patrick", "Alan Patrick", "Broadstuff", "https://broadstuff.com/"),
    ("scott-gould", "Scott Gould", "Like Minds", ""),
    ("nicole-yershon", "Nicole Yershon", "Ogilvy Labs", ""),
    ("neville-hobson", "Neville Hobson", "Communicator", ""),
]

# (slug, title, room, day offset from today, start hour, duration hours, speakers, status)
SESSIONS = [
    (
        "like-minds-social-business",
        "Like Minds: the Social Business Immersive",
        "Hub Westminster",
        0,
        None,
        2,
        ["euan-semple", "scott-gould"],
        Session.Status.LIVE,
    ),
    (
        "social-media-is-not-marketing",
        "Social media is not a marketing bolt-on",
        "BBC Broadcasting House",
        0,
        -4,
        1,
        ["alan-patrick"],
        Session.Status.ENDED,
    ),
    (
        "customer-service-in-public",
        "Customer service in public: the datastream knows",
        "Google Campus",
        1,
        10,
        1,
        ["alan-patrick", "neville-hobson"],
        Session.Status.UPCOMING,
    ),
    (
        "labs-and-experiments",
        "Labs, experiments and the post-digital agency",
        "Ogilvy, Canary Wharf",
        1,
        14,
        1,
        ["nicole-yershon"],
        Session.Status.UPCOMING,
    ),
    (
        "post-digital",
        "Towards the post-digital organisation",
        "The Royal Institution",
        2,
        11,
        1,
        ["euan-semple", "neville-hobson"],
        Session.Status.UPCOMING,
    ),
]

LIKE_MINDS_ENTRIES = [
    (
        "text",
        "Packed room at Hub Westminster for the **Like Minds Social Business Immersive**. "
        "Scott Gould opens: this is about how organisations *change*, not which tools they buy.",
        {},
    ),
    (
        "quote",
        "We're turning social media into a \"thing\" – it's the thingification of social media. "
        "It becomes sellable, marketable, something people have to do.",
        {"speaker": "euan-semple", "key_moment": True},
    ),
    (
        "quote",
        "But what I see is the web becoming part of people's lives, and encroaching into their workplaces.",
        {"speaker": "euan-semple"},
    ),
    (
        "text",
        "The tension of the week in one line: social media as a marketing bolt-on versus social tools "
        "that transform the whole enterprise. Watching #SMWLDN and #SMW side by side, the two camps are obvious.",
        {},
    ),
    (
        # A citation: another writer's post, shown as a card with a link to it.
        "citation",
        "More and more customers know this, and are becoming familiar with it, so they expect far more "
        "rapid action – and many more of your customers work in customer service in some form or another, "
        "or know someone who does, so are becoming far more savvy.",
        {
            "name": "Alan Patrick",
            "publication": "Broadstuff",
            "url": "https://broadstuff.com/",
            "key_moment": True,
        },
    ),
    (
        "text",
        "Euan: the compartmentalisation of social into marketing is inherently doomed. Customers see "
        "through the veneer of a company that hasn't embraced the change.",
        {},
    ),
]

ENDED_ENTRIES = [
    (
        "text",
        "Alan Patrick on why reputation for customer service is now part of the buying process: "
        "c. 90% of buyers go online before buying.",
        {},
    ),
    (
        "quote",
        "If there is a disconnect between the Company Spiel and reality, it is found out much faster, "
        "goes farther with social media, and is harder to manipulate.",
        {"speaker": "alan-patrick", "key_moment": True},
    ),
    ("text", "That's a wrap. Slides to follow.", {}),
]


# New York's programme: (slug, title, room, hour offset from now, hours, status); the
# people are fictional. The third follows the clock (it opens by itself in two hours).
NYC_SPEAKERS = [("maya-okafor", "Maya Okafor", "Community lead"), ("dan-ruiz", "Dan Ruiz", "")]
NYC_SESSIONS = [
    ("brands-in-public", "Brands in public: the feed is the front desk", "Times Center",
     -0.25, 1.5, ["maya-okafor"], Session.Status.LIVE, False),
    ("newsrooms-and-networks", "Newsrooms and networks", "Times Center",
     24, 1, ["dan-ruiz"], Session.Status.UPCOMING, False),
    ("open-mic-by-the-clock", "Open mic: what changed this week", "Hub Studio",
     2, 1, ["maya-okafor", "dan-ruiz"], Session.Status.UPCOMING, True),
]  # fmt: skip
NYC_ENTRIES = [
    ("text", "Doors open at the Times Center: a full house for the first New York session #SMWNYC.",
     {}),
    ("quote", "Your social feed is your front desk now: people walk up to it all day and night.",
     {"speaker": "maya-okafor", "key_moment": True}),
    ("text", "Same argument as London this morning: bolt-on or change? Following #SMW across the "
     "cities, New York leans towards change.", {}),
]  # fmt: skip

SEEDED_ENTRIES = {
    "like-minds-social-business": LIKE_MINDS_ENTRIES,
    "social-media-is-not-marketing": ENDED_ENTRIES,
}


class Command(BaseCommand):
    help = "Create the Social Media Week 2026 demo, London and New York (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        ensure_groups()
        password = os.environ.get("DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
        organiser = self._user("organiser", "Olivia Organiser", password, ORGANISERS, staff=True)
        blogger = self._user("blogger", "Ben Blogger", password, BLOGGERS, staff=False)
        nyc_organiser = self._user(
            "organiser-nyc", "Nia Organiser", password, ORGANISERS, staff=True
        )
        nyc_blogger = self._user("blogger-nyc", "Nate Blogger", password, BLOGGERS, staff=False)
        series, _ = Series.objects.get_or_create(
            slug="smw-2026", defaults={"name": "Social Media Week 2026", "hashtag": "#SMW"}
        )

        today = timezone.localdate(timezone=LONDON)
        event, created = Event.objects.get_or_create(
            slug="smw-london-2026",
            defaults={
                "name": "Social Media Week London 2026",
                "city": "London",
                "time_zone": "Europe/London",
                "hashtag": "#SMWLDN",
                "series_hashtag": "#SMW",
                "starts_on": today - dt.timedelta(days=1),
                "ends_on": today + dt.timedelta(days=3),
                "description": "A week of talks across London, as Social Media Week runs in cities "
                "worldwide: social media as marketing bolt-on, or as a change to how "
                "organisations and society work?",
                "series": series,
            },
        )
        if event.series_id is None:  # seeded before there were series
            event.series = series
            event.save(update_fields=["series"])
        event.organisers.add(organiser)
        speakers = {}
        for slug, name, affiliation, link in SPEAKERS:
            speakers[slug], _ = Speaker.objects.get_or_create(
                slug=slug, defaults={"name": name, "affiliation": affiliation, "link": link}
            )

        now = timezone.now().astimezone(LONDON)
        sessions = {}
        for slug, title, room, day, hour, hours, speaker_slugs, status in SESSIONS:
            if hour is None:  # live now: started half an hour ago
                starts = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=30)
            elif day == 0:
                starts = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=hour)
            else:
                starts = dt.datetime.combine(today + dt.timedelta(days=day), dt.time(hour), LONDON)
            session, session_created = Session.objects.get_or_create(
                event=event,
                slug=slug,
                defaults={
                    "title": title,
                    "room": room,
                    "starts_at": starts,
                    "ends_at": starts + dt.timedelta(hours=hours),
                    # Tomorrow afternoon's lab opens and closes by the clock (run_clock).
                    "follows_schedule": slug == "labs-and-experiments",
                },
            )
            if session_created:
                session.speakers.set([speakers[s] for s in speaker_slugs])
                session.bloggers.add(blogger)
            sessions[slug] = session
            # Every session starts upcoming; going live and ending are changes in its
            # stream, made as the organiser would make them.
            if session_created and status != Session.Status.UPCOMING:
                actions.set_session_status(session=session, status="live", by=organiser)
            entries = SEEDED_ENTRIES.get(slug)
            if session_created and entries:
                self._entries(session, blogger, speakers, entries)
            if session_created and status == Session.Status.ENDED:
                actions.set_session_status(session=session, status="ended", by=organiser)

        new_york = self._new_york(series, nyc_organiser, nyc_blogger, today)

        verb = "Created" if created else "Checked"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} the demo: {series.name}, {event.name} ({len(sessions)} sessions) "
                f"and {new_york.name} ({new_york.sessions.count()} sessions)."
            )
        )
        self.stdout.write(
            "Log in as 'blogger' or 'organiser' (London), 'blogger-nyc' or 'organiser-nyc' "
            f"(New York) with the password {password!r}."
        )

    def _new_york(self, series: Series, organiser, blogger, today: dt.date) -> Event:
        event, _ = Event.objects.get_or_create(
            slug="smw-new-york-2026",
            defaults={
                "name": "Social Media Week New York 2026",
                "city": "New York",
                "time_zone": "America/New_York",
                "hashtag": "#SMWNYC",
                "series_hashtag": "#SMW",
                "starts_on": today - dt.timedelta(days=1),
                "ends_on": today + dt.timedelta(days=3),
                "description": "The New York week of Social Media Week 2026.",
                "series": series,
            },
        )
        event.organisers.add(organiser)
        speakers = {}
        for slug, name, affiliation in NYC_SPEAKERS:
            speakers[slug], _ = Speaker.objects.get_or_create(
                slug=slug, defaults={"name": name, "affiliation": affiliation}
            )
        now = timezone.now().astimezone(NEW_YORK).replace(second=0, microsecond=0)
        for slug, title, room, hours_from_now, hours, who, status, follows in NYC_SESSIONS:
            starts = now + dt.timedelta(hours=hours_from_now)
            if hours_from_now >= 1:
                starts = starts.replace(minute=0)
            session, created = Session.objects.get_or_create(
                event=event,
                slug=slug,
                defaults={
                    "title": title,
                    "room": room,
                    "starts_at": starts,
                    "ends_at": starts + dt.timedelta(hours=hours),
                    "follows_schedule": follows,
                },
            )
            if not created:
                continue
            session.speakers.set([speakers[s] for s in who])
            session.bloggers.add(blogger)
            if status == Session.Status.LIVE:
                actions.set_session_status(session=session, status="live", by=organiser)
                self._entries(session, blogger, speakers, NYC_ENTRIES)
        return event

    def _user(self, username: str, full_name: str, password: str, group: str, *, staff: bool):
        User = get_user_model()
        first, last = full_name.split(" ", 1)
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "is_staff": staff}
        )
        if created:
            user.set_password(password)
            user.save()
        user.groups.add(Group.objects.get(name=group))
        return user

    def _entries(self, session: Session, author, speakers, entries) -> None:
        for kind, body, extra in entries:
            actions.post_entry(
                session=session,
                author=author,
                kind=kind,
                body=body,
                attribution_speaker=speakers.get(extra.get("speaker")),
                attribution_name=extra.get("name", ""),
                source_url=extra.get("url", ""),
                publication=extra.get("publication", ""),
                key_moment=extra.get("key_moment", False),
            )
