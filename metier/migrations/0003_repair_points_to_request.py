"""The link between a request and its repair moves to the repair's side.

`Reparation.demande` is unique, so the database refuses a second repair for one request;
and the worker marks a whole batch of requests done with one UPDATE instead of one per row.
"""

import django.db.models.deletion
from django.db import migrations, models


def copy_links(apps, schema_editor):
    Demande = apps.get_model("metier", "Demande")
    Reparation = apps.get_model("metier", "Reparation")
    for demande_id, reparation_id in Demande.objects.filter(reparation__isnull=False).values_list(
        "id", "reparation_id"
    ):
        Reparation.objects.filter(pk=reparation_id).update(demande_id=demande_id)


class Migration(migrations.Migration):
    dependencies = [
        ("metier", "0002_garage_domain"),
    ]

    operations = [
        migrations.AddField(
            model_name="reparation",
            name="demande",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="metier.demande",
            ),
        ),
        migrations.RunPython(copy_links, migrations.RunPython.noop),
        migrations.RemoveField(model_name="demande", name="reparation"),
        migrations.AlterField(
            model_name="reparation",
            name="demande",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reparation",
                to="metier.demande",
            ),
        ),
    ]
