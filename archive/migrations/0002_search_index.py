"""The search index, on whichever database this is (archive/search.py has the SQL).

PostgreSQL: a text search config, a generated tsvector column on entries, sessions and
speakers, and their GIN indexes. SQLite: FTS5 tables and the triggers that keep them.
Each vendor's half runs only on that vendor.
"""

from django.db import migrations

from archive import search


def _run(schema_editor, statements: list[str]) -> None:
    for sql in statements:
        schema_editor.execute(sql, params=None)


def create_index(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, search.postgres_index_sql())
    elif vendor == "sqlite":
        _run(schema_editor, search.sqlite_index_sql())
        for source in search.SOURCES:
            _run(schema_editor, search.sqlite_refill_sql(source))


def drop_index(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, search.postgres_unindex_sql())
    elif vendor == "sqlite":
        _run(schema_editor, search.sqlite_unindex_sql())


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0001_initial"),
        ("entries", "0005_entry_edited_at"),
        ("talks", "0004_session_ended_at"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
