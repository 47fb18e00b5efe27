"""Stored plates written canonically (metier/immatriculation.py): NFKC, look-alike letters
to Latin, no separators. A plate whose canonical spelling is another car's already, or that
is not a plate at all, is left as it was and reported: two cars to merge, or a plate to
correct, are the garage's call, not a migration's."""

from django.db import migrations


def normalise(apps, schema_editor):
    from metier.immatriculation import est_immatriculation, normalise_immatriculation

    Voiture = apps.get_model("metier", "Voiture")
    rows = list(
        Voiture.objects.exclude(immatriculation__isnull=True)
        .order_by("id")
        .values_list("id", "immatriculation")
    )
    taken = {plate for _, plate in rows}
    for pk, plate in rows:
        canonical = normalise_immatriculation(plate)
        if not canonical:
            Voiture.objects.filter(pk=pk).update(immatriculation=None)
            continue
        if canonical == plate and est_immatriculation(plate):
            continue
        if canonical in taken or not est_immatriculation(canonical):
            print(f"\n  voiture {pk}: plate {plate!r} left as it is (canonical {canonical!r})")
            continue
        Voiture.objects.filter(pk=pk).update(immatriculation=canonical)
        taken.discard(plate)
        taken.add(canonical)


class Migration(migrations.Migration):
    dependencies = [("metier", "0014_i15_cle_par_demandeur")]

    operations = [migrations.RunPython(normalise, migrations.RunPython.noop)]
