"""The server as `make run` and production run it (`python -m portal.serve`, a real uvicorn
subprocess): its webhook thread delivers, signed, what its API did, and the README's webhook
examples run against it as pasted."""

import json
import os
import re
import signal
import subprocess
import time

import httpx
import pytest
from django.conf import global_settings
from standardwebhooks import Webhook

from sessions_app.models import Role
from tests.conftest import ROOT, served, start_server
from tests.factories import PASSWORD, AccountFactory, CallSessionFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_server_delivers_signed_webhooks_of_what_its_api_did(settings, receiver):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the server's own hashers
    account = AccountFactory(name="Acme")
    UserFactory(username="mona", role=Role.MANAGER, accounts=[account])
    session = CallSessionFactory(account=account)
    auth = ("mona", PASSWORD)

    served_with_worker = served(log_name="webhooks-server.log", WEBHOOK_DELIVERY_IN_SERVER="1")
    with served_with_worker as url, httpx.Client(base_url=url) as http:
        created = http.post(
            "/webhooks", json={"url": receiver.url(), "eventKinds": ["held"]}, auth=auth
        )
        assert created.status_code == 200, created.text
        secret = created.json()["secret"]
        assert http.post(f"/sessions/{session.id}/hold", json={}, auth=auth).status_code == 200

        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)

    [request] = receiver.requests
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "session.held"
    assert payload["data"]["actor"] == "mona"
    assert payload["data"]["session"]["callState"] == "Hold"


def readme_webhook_block() -> str:
    """The ```sh block of the "## Webhooks" section of README.md."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## Webhooks\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert section, 'README.md has no "## Webhooks" section'
    block = re.search(r"^```sh\n(.*?)^```$", section.group(1), re.M | re.S)
    assert block, 'the "## Webhooks" section of README.md has no ```sh block'
    return block.group(1)


@pytest.mark.usefixtures("demo_data")
def test_the_readme_webhook_examples_run_in_order(tmp_path):
    script = readme_webhook_block()
    assert script.count("B=http://127.0.0.1:8000;") == 1

    with served(log_name="readme-webhooks-server.log") as url:
        run = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script.replace("http://127.0.0.1:8000", url)],
            cwd=tmp_path,
            env=os.environ,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert run.returncode == 0, run.stderr + run.stdout
    created = json.loads(run.stdout.splitlines()[0])
    assert created["secret"].startswith("whsec_")
    assert created["accountName"] == "Acme Telecom"
    assert created["secret"] not in run.stdout.split("\n", 1)[1]  # only the creation shows it
    assert "Id,AccountId,AccountName,Url" in run.stdout  # the CSV list


def test_the_server_with_its_delivery_thread_still_stops_at_once_on_sigterm():
    process, _ = start_server(log_name="webhooks-stop.log", WEBHOOK_DELIVERY_IN_SERVER="1")
    time.sleep(0.5)  # its worker has made its first pass and sleeps (polls every 2 s)
    process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    try:
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert time.monotonic() - signalled < 1.5
