"""Checks the whole journal: `python manage.py verifier_journal` (exit 1 when it was tampered
with, naming the first altered or removed record). The entries are read `--lot` at a time."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from metier.services import journal


class Command(BaseCommand):
    help = (
        "Verifies the hash chain of invoices, credit notes and payments; names the first "
        "record that was altered or removed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--all", action="store_true", help="list every problem, not only the first"
        )
        parser.add_argument(
            "--lot",
            type=int,
            default=journal.LOT,
            help=f"entries read per query (default {journal.LOT}): memory and round trips "
            "stay bounded however long the journal is",
        )

    def handle(self, *args, **options):
        if options["lot"] < 1:
            raise CommandError("--lot must be at least 1")
        result = journal.verifier(premier_seulement=not options["all"], lot=options["lot"])
        if result.intact:
            self.stdout.write(f"journal intact: {result.entrees} entries; head hash {result.tete}")
            return
        for probleme in result.problemes:
            self.stderr.write(str(probleme))
        raise CommandError(f"journal tampered with: first problem: {result.problemes[0]}")
