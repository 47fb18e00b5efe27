from django.core.management.base import BaseCommand

from messaging.config import for_queue, topology
from messaging.deadletters import queue_depths


class Command(BaseCommand):
    help = (
        "Show how many messages wait in each queue (main, dead letters, delay queues), and in "
        "each event consumer's queues (garage.notifier...)."
    )

    def handle(self, *args, **options):
        topo = topology()
        for topo_ in [topo, *(for_queue(topo, name) for name, _keys in topo.event_queues)]:
            for name, depth in queue_depths(topo=topo_).items():
                self.stdout.write(f"{name:<28} {'(absent)' if depth is None else depth}")
        if topo.events_exchange:
            bound = ", ".join(f"{n} ← {' '.join(k)}" for n, k in topo.event_queues)
            self.stdout.write(f"exchange {topo.events_exchange} (topic): {bound}")
