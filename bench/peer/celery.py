"""The peer's Celery app: `celery -A bench.peer.celery worker`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peer.settings")

app = Celery("peer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["bench.peer"])
