# ApiToken now lives in the accounts app, on the same table.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("entries", "0003_source_url_http_https_only"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiToken")],
            database_operations=[],
        ),
    ]
