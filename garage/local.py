"""Is this a local run? Read by the settings and by gunicorn's config file (no Django here).

DEBUG is on when DJANGO_DEBUG says so. When DJANGO_DEBUG is not set at all and neither is
DJANGO_SECRET_KEY, a checkout that `make run` has set up (it made var/dev-secret-key) stays
a local one: every `python manage.py ...` the README shows works there as written. Anywhere
else (a server: no such file) a missing key still stops the program.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

TRUE = {"1", "true", "yes", "on"}


def var_dir(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("GARAGE_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")


def debug(environ: Mapping[str, str] = os.environ) -> bool:
    value = (environ.get("DJANGO_DEBUG") or "").strip().lower()
    if value:
        return value in TRUE
    return not environ.get("DJANGO_SECRET_KEY") and (var_dir(environ) / "dev-secret-key").exists()
