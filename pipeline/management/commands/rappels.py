"""`python manage.py rappels`: the reminders' scheduler, for cron (once a day is plenty).

It emits `rappel.du` once for each maintenance reminder that fell due (by date or by the
car's mileage) and was not signalled yet; the notifier tells the customer. Why a command
for cron and not a thread of the worker: reminders are a daily matter, not the pipeline's;
a worker runs in several copies (each would run the pass, uselessly), restarts with each
deployment (the pass would run at random hours), and a slow pass would take CPU from the
repair requests. Running it twice at once is harmless: each reminder is locked (SKIP LOCKED)
and signalled once. `--loop SECONDS` keeps it running, for a platform without cron.
"""

import time

from django.core.management.base import BaseCommand

from metier.services import signaler_rappels_dus


class Command(BaseCommand):
    help = "Emit rappel.du once for each maintenance reminder that fell due (run it from cron)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", type=float, default=0, help="run every SECONDS (0: once)")

    def handle(self, *args, loop: float = 0, **options):
        while True:
            ids = signaler_rappels_dus()
            self.stdout.write(f"{len(ids)} reminder(s) due signalled")
            if not loop:
                return
            time.sleep(loop)
