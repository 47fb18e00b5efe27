"""TRUNCATE is refused on the immutable tables too (PostgreSQL): a row trigger (0007) does
not fire on TRUNCATE, so `TRUNCATE metier_facture` (or a `TRUNCATE ... CASCADE` reaching it
from the repairs) would have emptied the invoices unseen. A statement-level BEFORE TRUNCATE
trigger refuses it while the table holds a row; an empty table may still be truncated, so
Django's test flush (TRUNCATE of every table) works once the documents are gone.

SQLite has no TRUNCATE: its `DELETE FROM t` "truncate optimisation" is never used on a table
with a DELETE trigger, and 0007's triggers already refuse that.
"""

from django.db import migrations

# As in 0007 (frozen here: a later migration protects the tables it adds itself).
TABLES_IMMUABLES = (
    "metier_facture",
    "metier_lignefacture",
    "metier_avoir",
    "metier_ligneavoir",
    "metier_paiement",
    "metier_ecriturejournal",
)

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION garage_document_non_vidable() RETURNS trigger AS $$
DECLARE
    non_vide boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO non_vide;
    IF non_vide THEN
        RAISE EXCEPTION 'garage: TRUNCATE on % refused: issued documents, payments and journal entries never change (correct with a credit note)', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def sql_create(vendor: str) -> list[str]:
    if vendor != "postgresql":
        return []
    return [PG_FUNCTION] + [
        f"CREATE TRIGGER {table}_non_vidable BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION garage_document_non_vidable()"
        for table in TABLES_IMMUABLES
    ]


def sql_drop(vendor: str) -> list[str]:
    if vendor != "postgresql":
        return []
    return [
        f"DROP TRIGGER IF EXISTS {table}_non_vidable ON {table}" for table in TABLES_IMMUABLES
    ] + ["DROP FUNCTION IF EXISTS garage_document_non_vidable()"]


def create(apps, schema_editor):
    for sql in sql_create(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


def drop(apps, schema_editor):
    for sql in sql_drop(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("metier", "0009_libelles_et_index_demande")]

    operations = [migrations.RunPython(create, drop)]
