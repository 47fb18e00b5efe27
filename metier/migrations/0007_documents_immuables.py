"""Issued documents are immutable, enforced by the database: UPDATE and DELETE are refused
on invoices, their lines, credit notes, their lines, payments and journal entries, whoever
writes (the API, the admin, a script, raw SQL). PostgreSQL: one plpgsql trigger function;
SQLite: a BEFORE UPDATE and a BEFORE DELETE trigger per table raising ABORT."""

from django.db import migrations

TABLES = (
    "metier_facture",
    "metier_lignefacture",
    "metier_avoir",
    "metier_ligneavoir",
    "metier_paiement",
    "metier_ecriturejournal",
)

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION garage_document_immuable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'garage: % on % refused: issued documents, payments and journal entries never change (correct with a credit note)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_immuable BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION garage_document_immuable()"
            )
    elif vendor == "sqlite":
        for table in TABLES:
            for op in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_immuable_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'garage: {op} on {table} refused: issued "
                    f"documents, payments and journal entries never change'); END"
                )
    else:
        raise RuntimeError(f"no immutability triggers for the {vendor} database")


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immuable ON {table}")
        else:
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immuable_{op}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS garage_document_immuable()")


class Migration(migrations.Migration):
    dependencies = [("metier", "0006_facturation")]

    operations = [migrations.RunPython(create, drop)]
