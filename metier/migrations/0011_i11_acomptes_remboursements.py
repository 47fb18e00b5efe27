"""Deposits taken on an approved estimate (`Paiement.devis`), deposits deducted on the
invoice (`Facture.acomptes`), refunds of paid credit notes (`Remboursement`, immutable and
journalled like payments).

The new columns are nullable without default, so no existing row is rewritten (PostgreSQL:
ADD COLUMN; SQLite too). Widening the journal's `type` makes SQLite rebuild that table, which
drops its triggers: every immutability trigger is made again at the end (0007's, idempotent),
and the refunds' table gets its own (UPDATE/DELETE refused; TRUNCATE on PostgreSQL, 0010).
"""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "metier_remboursement"


def sql_create(vendor):
    if vendor == "postgresql":
        return [
            f"CREATE TRIGGER {TABLE}_immuable BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION garage_document_immuable()",
            f"CREATE TRIGGER {TABLE}_non_vidable BEFORE TRUNCATE ON {TABLE} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION garage_document_non_vidable()",
        ]
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {TABLE}_immuable_{op.lower()} BEFORE {op} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, 'garage: {op} on {TABLE} refused: issued "
            f"documents, payments and journal entries never change'); END"
            for op in ("UPDATE", "DELETE")
        ]
    raise RuntimeError(f"no immutability triggers for the {vendor} database")


def sql_drop(vendor):
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {TABLE}_immuable ON {TABLE}",
            f"DROP TRIGGER IF EXISTS {TABLE}_non_vidable ON {TABLE}",
        ]
    return [f"DROP TRIGGER IF EXISTS {TABLE}_immuable_{op}" for op in ("update", "delete")]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    earlier = importlib.import_module("metier.migrations.0007_documents_immuables")
    # 0007's triggers again (dropped and made: idempotent), as SQLite's rebuild of the
    # journal table dropped that table's.
    for sql in [*earlier.sql_drop(vendor), *earlier.sql_create(vendor), *sql_create(vendor)]:
        schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):
    for sql in sql_drop(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


def restore_earlier(apps, schema_editor):
    """Unapplying: SQLite rebuilt the payments and journal tables again, without their
    triggers; 0007's are made again (the last step of the way back)."""
    vendor = schema_editor.connection.vendor
    earlier = importlib.import_module("metier.migrations.0007_documents_immuables")
    for sql in [*earlier.sql_drop(vendor), *earlier.sql_create(vendor)]:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("metier", "0010_i11_truncate_refuse"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_earlier),
        migrations.AddField(
            model_name="facture",
            name="acomptes",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True),
        ),
        migrations.AddField(
            model_name="paiement",
            name="devis",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="acomptes",
                to="metier.devis",
            ),
        ),
        migrations.AlterField(
            model_name="ecriturejournal",
            name="type",
            field=models.CharField(
                choices=[
                    ("facture", "facture"),
                    ("avoir", "avoir"),
                    ("paiement", "paiement"),
                    ("remboursement", "remboursement"),
                ],
                max_length=15,
            ),
        ),
        migrations.CreateModel(
            name="Remboursement",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("montant", models.DecimalField(decimal_places=2, max_digits=12)),
                (
                    "mode",
                    models.CharField(
                        choices=[
                            ("carte", "carte bancaire"),
                            ("especes", "espèces"),
                            ("virement", "virement"),
                            ("cheque", "chèque"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "reference",
                    models.CharField(blank=True, help_text="transfer id, ...", max_length=100),
                ),
                ("rembourse_le", models.DateTimeField()),
                (
                    "avoir",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="remboursements",
                        to="metier.avoir",
                    ),
                ),
                (
                    "facture",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="remboursements",
                        to="metier.facture",
                    ),
                ),
                (
                    "par",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "reparation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="remboursements",
                        to="metier.reparation",
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("montant__gt", 0)), name="remboursement_montant_positif"
                    )
                ],
            },
        ),
        migrations.RunPython(create, drop),
    ]
