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


def sql_create(vendor):
    if vendor == "postgresql":
        return [PG_FUNCTION] + [
            f"CREATE TRIGGER {table}_immuable BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION garage_document_immuable()"
            for table in TABLES
        ]
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {table}_immuable_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'garage: {op} on {table} refused: issued "
            f"documents, payments and journal entries never change'); END"
            for table in TABLES
            for op in ("UPDATE", "DELETE")
        ]
    raise RuntimeError(f"no immutability triggers for the {vendor} database")


def sql_drop(vendor):
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_immuable ON {table}" for table in TABLES] + [
            "DROP FUNCTION IF EXISTS garage_document_immuable()"
        ]
    return [
        f"DROP TRIGGER IF EXISTS {table}_immuable_{op}"
        for table in TABLES
        for op in ("update", "delete")
    ]


def create(apps, schema_editor):
    for sql in sql_create(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):
    for sql in sql_drop(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("metier", "0006_facturation")]

    operations = [migrations.RunPython(create, drop)]
