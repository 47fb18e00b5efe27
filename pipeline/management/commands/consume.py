"""The worker: `python manage.py consume` (also `python consomateur.py`)."""

import logging
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from messaging.consumer import Consumer
from observability import metrics, multiproc
from pipeline.outbox import run_relay

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Consume repair requests from the `garage` queue; also runs the outbox relay."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-relay",
            action="store_true",
            help="do not run the outbox relay in this process (run `manage.py relay` instead)",
        )

    def handle(self, *args, no_relay: bool = False, **options):
        multiproc.remove_dead_processes_files()
        multiproc.process_started("worker")
        consumer = Consumer(
            import_string(settings.GARAGE_BATCH_HANDLER), hooks=metrics.consumer_hooks()
        )
        consumer.install_signal_handlers()
        relay = None
        if not no_relay:
            relay = threading.Thread(
                target=run_relay, args=(consumer.stop_event,), name="relay", daemon=True
            )
            relay.start()
        consumer.run()
        if relay is not None:
            relay.join(timeout=10)
