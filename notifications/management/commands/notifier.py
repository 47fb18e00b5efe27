"""The notifications service: `python manage.py notifier` (Procfile `notifier:`)."""

import logging

from django.conf import settings
from django.core.management.base import BaseCommand

from messaging.config import for_queue
from messaging.config import topology as load_topology
from messaging.consumer import Consumer
from notifications import sms
from notifications.gabarits import charger
from notifications.handler import Notifier
from observability import metrics, multiproc

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Consume garage.notifier: tell customers by email and SMS, with their consent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="check the templates and settings, then exit"
        )

    def handle(self, *args, check: bool = False, **options):
        # Loud at start-up: a bad template or SMS setting stops here, not at send time.
        gabarits = charger()
        provider = sms.provider()
        if check:
            self.stdout.write(f"{len(gabarits)} templates OK; SMS: {type(provider).__name__}")
            return
        multiproc.process_started("notifier")
        topo = for_queue(load_topology(), settings.GARAGE_NOTIFIER_QUEUE)
        consumer = Consumer(
            Notifier(gabarits, provider),
            topo=topo,
            prefetch=settings.GARAGE_NOTIFIER_BATCH_SIZE * 2,
            batch_size=settings.GARAGE_NOTIFIER_BATCH_SIZE,
            hooks=metrics.consumer_hooks(),
        )
        consumer.install_signal_handlers()
        consumer.run()
