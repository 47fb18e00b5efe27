from django.core.management.base import BaseCommand

from messaging.deadletters import queue_depths
from webhooks.evenements import topology as webhooks_topology


class Command(BaseCommand):
    help = "Show how many messages wait in each queue (main, dead letters, delay queues)."

    def handle(self, *args, **options):
        depths = {**queue_depths(), **queue_depths(topo=webhooks_topology())}
        for name, depth in depths.items():
            self.stdout.write(f"{name:<24} {'(absent)' if depth is None else depth}")
