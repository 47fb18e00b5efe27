"""The webhooks process: `python manage.py webhooks` (Procfile `webhooks:`).

Consumes its own durable queue `garage.webhooks`, bound with `#` to `garage.events`
(declared, idempotently, on every connect), records each event and its deliveries, acks;
a thread sends the deliveries (webhooks/livraison.py)."""

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from messaging.events import EventConsumer
from metier.services import webhooks as service
from webhooks import evenements, livraison

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Record events from garage.webhooks and deliver them to the webhook subscriptions."

    def add_arguments(self, parser):
        parser.add_argument("--no-delivery", action="store_true", help="record only; send nothing")
        parser.add_argument(
            "--purger-jours",
            type=int,
            default=None,
            metavar="N",
            help="forget deliveries delivered more than N days ago (and their events), then "
            "exit: for cron",
        )
        parser.add_argument(
            "--rechiffrer",
            action="store_true",
            help="encrypt every subscription's secret again with the current secret key "
            "(after a key rotation), then exit",
        )

    def handle(self, *args, no_delivery: bool = False, rechiffrer: bool = False, **options):
        if options["purger_jours"] is not None:
            avant = timezone.now() - timedelta(days=options["purger_jours"])
            livraisons, events = service.purger(avant=avant)
            self.stdout.write(f"removed {livraisons} delivered deliveries, {events} events")
            return
        if rechiffrer:
            count = service.rechiffrer_secrets()
            self.stdout.write(f"{count} secret(s) encrypted with the current key")
            return
        consumer = EventConsumer(
            evenements.handle_batch,
            exchange=settings.GARAGE_EVENTS_EXCHANGE,
            bindings=("#",),
            topo=evenements.topology(),
            prefetch=200,
            batch_size=100,
        )
        consumer.install_signal_handlers()
        sender = None
        if not no_delivery:
            sender = threading.Thread(
                target=livraison.run, args=(consumer.stop_event,), name="webhooks", daemon=True
            )
            sender.start()
        consumer.run()
        if sender is not None:
            sender.join(timeout=settings.GARAGE_WEBHOOK_TIMEOUT + 5)
