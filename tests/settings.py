"""Settings for the test run: the real settings, with a throwaway key (no secret needed)."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret")
# The test client speaks plain http; production settings are checked by test_deploy.py.
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
# Counters of one run never meet another's in a shared cache.
os.environ.setdefault("GARAGE_CACHE_PREFIX", f"garage-test-{os.getpid()}")

# This run's own metrics files (prometheus-client multiprocess mode), not var/metrics.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="garage-test-metrics-")
    atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

from garage.settings import *  # noqa: F403

# Events are published after commit only by tests with a broker of their own (the `vhost`
# fixture turns it on): the others would publish to the shared broker's default vhost.
# (Not an environment variable: the processes the tests start keep the default, on.)
GARAGE_EVENTS_AFTER_COMMIT = False
