"""The ordered stream under concurrent writers: unique, gap-free sequence numbers."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from entries import actions
from entries.models import Entry
from sessions.models import Session
from tests.conftest import post_entry

pytestmark = pytest.mark.django_db(transaction=True)


def run_concurrently(workers: int, target) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def run(index: int) -> None:
        try:
            start.wait()
            target(index)
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_two_writers_posting_200_entries_get_unique_gap_free_numbers(session, blogger, organiser):
    authors = [blogger, organiser]

    def write(index: int) -> None:
        for i in range(100):
            entry = post_entry(session, authors[index], f"writer {index} entry {i}")
            if i % 10 == 0:
                actions.edit_entry(entry=entry, body=f"writer {index} entry {i}, edited")

    assert run_concurrently(2, write) == []
    session.refresh_from_db()
    entries = Entry.objects.filter(session=session)
    assert entries.count() == 200
    created = sorted(entries.values_list("created_seq", flat=True))
    assert len(set(created)) == 200
    # 200 creations and 20 edits took 220 numbers, none skipped, none taken twice.
    assert session.last_seq == 220
    latest = set(entries.values_list("seq", flat=True))
    assert len(latest) == 200 and max(latest) == 220
    assert set(created) | latest <= set(range(1, 221))


def test_concurrent_retries_with_one_idempotency_key_make_one_entry(session, blogger):
    results: list[int] = []

    def retry(index: int) -> None:
        entry = actions.post_entry(
            session=session, author=blogger, kind="text", body="Flaky", idempotency_key="same"
        )
        results.append(entry.pk)

    assert run_concurrently(4, retry) == []
    assert len(set(results)) == 1 and Entry.objects.count() == 1
    assert Session.objects.get(pk=session.pk).last_seq == 1


def test_allocating_outside_a_transaction_is_refused(session):
    assert not connection.in_atomic_block
    with pytest.raises(AssertionError):
        session.allocate_seq()
