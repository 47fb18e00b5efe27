"""Settings for the test run: the real settings, with a throwaway key (no secret needed)."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret")
# The test client speaks plain http; production settings are checked by test_deploy.py.
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
# Counters of one run never meet another's in a shared cache.
os.environ.setdefault("GARAGE_CACHE_PREFIX", f"garage-test-{os.getpid()}")

from garage.settings import *  # noqa: F403
