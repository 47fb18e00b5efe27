import signal
import threading

from django.core.management.base import BaseCommand

from observability import multiproc
from pipeline.outbox import run_relay


class Command(BaseCommand):
    help = "Publish the repair requests that are accepted but not yet on the queue (the outbox)."

    def handle(self, *args, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        multiproc.process_started("relay")
        run_relay(stop)
