"""The database cache table (the throttles' counters when REDIS_URL is not set), so that
`migrate` is the only step a deployment needs. It does nothing for other cache backends."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("access", "0001_roles")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
