from django.core.management.base import BaseCommand

from messaging.deadletters import queue_depths


class Command(BaseCommand):
    help = "Show how many messages wait in each queue (main, dead letters, delay queues)."

    def handle(self, *args, **options):
        for name, depth in queue_depths().items():
            self.stdout.write(f"{name:<24} {'(absent)' if depth is None else depth}")
