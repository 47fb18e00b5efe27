"""Settings for the test run: the real settings, with a throwaway key (no secret needed)."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret")

from garage.settings import *  # noqa: F403
