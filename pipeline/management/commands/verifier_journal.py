"""Checks the whole journal: `python manage.py verifier_journal` (exit 1 when it was tampered
with, naming the first altered or removed record)."""

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

    def handle(self, *args, **options):
        result = journal.verifier(premier_seulement=not options["all"])
        if result.intact:
            self.stdout.write(f"journal intact: {result.entrees} entries; head hash {result.tete}")
            return
        for probleme in result.problemes:
            self.stderr.write(str(probleme))
        raise CommandError(f"journal tampered with: first problem: {result.problemes[0]}")
