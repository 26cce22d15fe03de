"""Ids and cursors a client writes, read once and the same way at every door.

A path or query string may hold a number no column can (past 2^63, a bigint's limit), a
negative one, one of thousands of digits, or digits that are not ASCII ("٣" is 3 to
int(), "²" a digit to str.isdigit() and nothing to int()). SQLite raises OverflowError on
a number it cannot bind, and Django's guard against out-of-range lookups covers only some
of them (not a foreign key's `event_id=`, not the admin's date hierarchy), so such a
value is turned away here, as "no such thing", before it reaches a query.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1  # PostgreSQL's bigint and SQLite's INTEGER
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(value: str | None) -> int | None:
    """The id or cursor written in `value` (ASCII digits, 0 to 2^63 - 1), else None."""
    if value is None or not (value.isascii() and value.isdigit()):
        return None
    if len(value.lstrip("0")) > _MAX_DIGITS:
        return None
    number = int(value)
    return number if number <= MAX_ID else None


class IdConverter:
    """A URL path's `<id:pk>`: like `<int:pk>`, but a number past a bigint matches nothing."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValueError("not an id")  # the pattern does not match: a 404
        return number

    def to_url(self, value: int) -> str:
        return str(value)
