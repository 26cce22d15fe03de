"""liveblog.server with a switch for its database, for tests/browser/test_database_down.py.

While the file named by LIVEBLOG_TEST_DATABASE_DOWN exists, every database connection
the server needs fails with OperationalError, as when PostgreSQL restarts or its
connections are cut (tests/test_database_down.py does the same in process). Everything
else is the real server: the views, the middleware and the error handler answer as they
would then (503 with Retry-After). Management commands the test runs against the same
database do not load this module, so they see the database as it is.
"""

from __future__ import annotations

import os

from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

from liveblog import server

SWITCH = os.environ["LIVEBLOG_TEST_DATABASE_DOWN"]
_ensure_connection = BaseDatabaseWrapper.ensure_connection


def ensure_connection(self) -> None:
    """Every query and transaction passes through here (cursor() and atomic() call it)."""
    if os.path.exists(SWITCH):
        raise OperationalError("server closed the connection unexpectedly (switched off by a test)")
    _ensure_connection(self)


BaseDatabaseWrapper.ensure_connection = ensure_connection

if __name__ == "__main__":
    server.main()
