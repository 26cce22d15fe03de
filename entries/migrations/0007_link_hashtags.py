"""Re-render entries that hold a "#", so that their hashtags link to their tag page.

Only the rendered HTML changes (what readers see on their next page load); the stream's
numbers are untouched, as for any re-render.
"""

from django.db import migrations


def link_hashtags(apps, schema_editor):
    from entries.markdown import render_markdown

    Entry = apps.get_model("entries", "Entry")
    # As Entry.render does, for every kind (a photo's body is its caption).
    for entry in Entry.objects.filter(body__contains="#").only("pk", "body", "html").iterator():
        html = render_markdown(entry.body)
        if html != entry.html:
            Entry.objects.filter(pk=entry.pk).update(html=html)


class Migration(migrations.Migration):
    dependencies = [("entries", "0006_rich_entries")]

    operations = [migrations.RunPython(link_hashtags, migrations.RunPython.noop)]
