"""Settings of the Celery peer: only what the view, the models and the task need."""

import os

import dj_database_url

SECRET_KEY = "bench-peer-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["bench.peer"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "bench.peer.urls"
WSGI_APPLICATION = "bench.peer.wsgi.application"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("PEER_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/garage_peer"),
        conn_max_age=600,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
APPEND_SLASH = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# Celery: the broker is the peer's own vhost; publisher confirms; nothing stored as result.
CELERY_BROKER_URL = os.environ.get("PEER_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("PEER_QUEUE", "peer")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# No remote control or event exchanges: nothing of the peer outlives it on a shared vhost.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
