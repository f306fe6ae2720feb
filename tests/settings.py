"""The test process's settings: production's (`portal.settings`, so DEBUG is off) with a
throwaway secret key and the loopback host names, which production refuses to start without.

pytest-django imports the settings before any conftest.py runs, so pyproject.toml names this
module for pytest. The values go into the environment, so the servers and commands the tests
start in subprocesses inherit them (a test that wants them absent removes them, as
tests/test_settings.py does).
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-insecure-key")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

from portal.settings import *  # noqa: E402, F403

# Webhooks: the tests' receivers listen on loopback
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_TARGETS", "1")
WEBHOOK_ALLOW_PRIVATE_TARGETS = True
