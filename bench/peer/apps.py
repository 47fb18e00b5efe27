from django.apps import AppConfig


class PeerConfig(AppConfig):
    name = "bench.peer"
    label = "peer"

    def ready(self) -> None:
        # The Celery app must be configured before a view publishes (web) or a task runs.
        from bench.peer import celery  # noqa: F401
