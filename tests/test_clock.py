"""Sessions that follow the clock open and close by themselves, once, pushed to readers.

Every tick is given its `now`: nothing here waits for a real clock.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from entries import actions, clock
from sessions.models import Session

pytestmark = pytest.mark.django_db


NINE = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def scheduled(event):
    """A talk from 09:00 to 10:00 UTC that follows its schedule."""
    return Session.objects.create(
        event=event,
        title="Thingification",
        slug="thingification",
        starts_at=NINE,
        ends_at=NINE + dt.timedelta(hours=1),
        follows_schedule=True,
    )


def status_of(session: Session) -> str:
    return Session.objects.get(pk=session.pk).status


def test_nothing_happens_before_the_start(scheduled):
    done = clock.tick(NINE - dt.timedelta(seconds=1))
    assert done.ran and not done.started and not done.ended
    assert status_of(scheduled) == "upcoming"


def test_a_session_goes_live_at_its_start_and_readers_are_told(scheduled, pushed):
    with pushed() as layer:
        done = clock.tick(NINE)
    assert done.started == [scheduled] and status_of(scheduled) == "live"
    [change] = layer.changes()
    assert change["type"] == "status" and change["status"] == "live"
    assert change["_group"].endswith(str(scheduled.pk))


def test_it_ends_at_its_end_and_records_when(scheduled, pushed):
    clock.tick(NINE + dt.timedelta(minutes=1))
    with pushed() as layer:
        done = clock.tick(NINE + dt.timedelta(hours=1))
    assert done.ended == [scheduled]
    session = Session.objects.get(pk=scheduled.pk)
    assert session.status == "ended" and session.ended_at is not None
    assert [c["status"] for c in layer.changes()] == ["ended"]


def test_a_second_tick_changes_nothing_and_pushes_nothing(scheduled, pushed):
    clock.tick(NINE)
    seq = Session.objects.get(pk=scheduled.pk).last_seq
    with pushed() as layer:
        again = clock.tick(NINE + dt.timedelta(minutes=5))
    assert not again.started and not again.ended and layer.sent == []
    assert Session.objects.get(pk=scheduled.pk).last_seq == seq


def test_a_clock_that_was_down_catches_up(event, scheduled, pushed):
    during = Session.objects.create(
        event=event,
        title="Running over",
        slug="running-over",
        starts_at=NINE + dt.timedelta(hours=1),
        ends_at=NINE + dt.timedelta(hours=3),
        follows_schedule=True,
    )
    # Down from 08:00 till 11:00: the first talk's whole slot passed, the second is on.
    with pushed() as layer:
        done = clock.tick(NINE + dt.timedelta(hours=2))
    assert done.ended == [scheduled] and done.started == [during]
    assert status_of(scheduled) == "ended" and status_of(during) == "live"
    assert sorted(c["status"] for c in layer.changes()) == ["ended", "live"]


def test_sessions_that_do_not_follow_the_schedule_are_left_to_people(scheduled, session):
    Session.objects.filter(pk=session.pk).update(ends_at=NINE)  # live, and past its end
    clock.tick(NINE + dt.timedelta(hours=5))
    assert status_of(session) == "live"


def test_a_session_ended_early_by_hand_is_not_restarted(scheduled, organiser):
    clock.tick(NINE)
    actions.set_session_status(session=scheduled, status="ended", by=organiser)
    done = clock.tick(NINE + dt.timedelta(minutes=30))
    assert not done.started and status_of(scheduled) == "ended"


def test_a_session_started_early_by_hand_still_ends_by_the_clock(scheduled, blogger):
    scheduled.bloggers.add(blogger)
    actions.set_session_status(session=scheduled, status="live", by=blogger)
    assert clock.tick(NINE + dt.timedelta(hours=1)).ended == [scheduled]


def test_reopening_by_hand_after_the_end_hands_the_session_to_people(scheduled, organiser):
    clock.tick(NINE + dt.timedelta(hours=2))
    actions.set_session_status(session=scheduled, status="live", by=organiser)
    session = Session.objects.get(pk=scheduled.pk)
    assert session.status == "live" and not session.follows_schedule
    assert not clock.tick(NINE + dt.timedelta(hours=3)).ended


def test_a_zero_length_item_goes_from_upcoming_to_ended(event):
    lunch = Session.objects.create(
        event=event,
        title="Lunch",
        slug="lunch",
        starts_at=NINE,
        ends_at=NINE,
        follows_schedule=True,
    )
    assert clock.tick(NINE).ended == [lunch]


def test_the_command_runs_one_round(scheduled, capsys, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NINE + dt.timedelta(minutes=1))
    call_command("run_clock", "--once")
    assert "started: smw-london/thingification" in capsys.readouterr().out
    assert status_of(scheduled) == "live"


def test_the_command_refuses_a_silly_interval():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="interval"):
        call_command("run_clock", "--once", "--interval", "0")


def test_a_clock_that_cannot_take_the_lock_skips_the_round(scheduled, settings):
    """PostgreSQL only: another clock holds the advisory lock, so this one does nothing."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    import psycopg

    db = settings.DATABASES["default"]
    other = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=connection.settings_dict["NAME"],
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [clock.ADVISORY_LOCK_KEY])
        assert clock.tick(NINE) == clock.Tick(ran=False)
        assert status_of(scheduled) == "upcoming"
        other.execute("SELECT pg_advisory_unlock(%s)", [clock.ADVISORY_LOCK_KEY])
        assert clock.tick(NINE).started == [scheduled]
    finally:
        other.close()


def test_run_clock_runs_its_rounds_on_apscheduler_until_stopped(session, monkeypatch):
    """The command's rounds are APScheduler's (no loop of ours): the first at once, then one
    every --interval; here the scheduler is stopped after its first round."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from entries.management.commands import run_clock

    rounds = []
    started = BlockingScheduler.start

    def start_then_stop(scheduler, *args, **kwargs):
        (job,) = scheduler.get_jobs()
        assert job.trigger.interval.total_seconds() == 7
        assert job.max_instances == 1 and job.coalesce
        job.func()  # the round APScheduler would run at once
        rounds.append(job)

    monkeypatch.setattr(BlockingScheduler, "start", start_then_stop)
    monkeypatch.setattr(run_clock.signal, "signal", lambda *args: None)
    call_command("run_clock", "--interval", "7")
    assert len(rounds) == 1 and started is not start_then_stop
