"""`python manage.py catalogue_evenements`: writes docs/events/ (a JSON Schema per event and
the AsyncAPI 3 document) from pipeline/catalogue.py; `--check` fails if they are stale."""

from django.core.management.base import BaseCommand, CommandError

from pipeline.catalogue import ROOT, render


class Command(BaseCommand):
    help = "Write the event catalogue (docs/events/); --check: fail if it is out of date."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="change nothing; fail if stale")

    def handle(self, *args, check: bool = False, **options):
        files = render()
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        known = set(files)
        extra = [p for p in (ROOT / "schemas").glob("*.json") if p not in known]
        if check:
            if stale or extra:
                names = ", ".join(str(p.relative_to(ROOT)) for p in [*stale, *extra])
                raise CommandError(
                    f"the event catalogue is out of date ({names}): "
                    "run `python manage.py catalogue_evenements`"
                )
            self.stdout.write(f"event catalogue up to date ({len(files)} files)")
            return
        for path in stale:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[path])
        for path in extra:
            path.unlink()
        self.stdout.write(f"wrote {len(stale)} file(s), removed {len(extra)}, in {ROOT}")
