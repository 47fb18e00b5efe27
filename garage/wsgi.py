"""The WSGI application (`python -m garage.web` serves it; any WSGI server can)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "garage.settings")
application = get_wsgi_application()

# Each web worker process imports this once: it registers itself for /metrics.
from observability import multiproc  # noqa: E402

multiproc.process_started("web")
