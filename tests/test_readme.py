"""The README's API examples, run as a reader pastes them: the shell block under "## The API"
is read from README.md and run with bash against the real server (`served()`) on the demo data
of `seed_demo`, so the examples cannot rot."""

import csv
import functools
import io
import json
import os
import re
import subprocess
from xml.etree import ElementTree

import pytest
from django.conf import global_settings
from django.core.management import call_command

from sessions_app.models import CallSession, CallState, EventKind, Via
from tests.conftest import ROOT, served

README_URL = "B=http://127.0.0.1:8000;"

# Put before the block: every curl the reader sees the answer of (not those inside `$(...)`)
# is announced by a line naming its arguments, so that the answers can be read one by one.
ANNOUNCE_CURLS = """set -euo pipefail
curl() {
    if (( BASH_SUBSHELL == 0 )); then printf '\\n### curl %s\\n' "$*"; fi
    command curl "$@"
}
"""


def readme_api_block() -> str:
    """The first ```sh block of the "## The API" section of README.md."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## The API\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    if section is None:
        pytest.fail('README.md has no "## The API" section')
    block = re.search(r"^```sh\n(.*?)^```$", section.group(1), re.M | re.S)
    if block is None:
        pytest.fail('the "## The API" section of README.md has no ```sh block')
    if block.group(1).count(README_URL) != 1:
        pytest.fail(f"the README's API examples no longer set the server with {README_URL!r}")
    return block.group(1)


@functools.cache
def _make_password_once(raw_password):
    from django.contrib.auth.hashers import make_password

    return make_password(raw_password)


@pytest.fixture
def demo_data(transactional_db, settings, monkeypatch):
    """`seed_demo`'s data, committed, with passwords the server's own hashers accept (one
    PBKDF2 hash of `demo-password`, shared by the demo users, rather than one each)."""
    from django.contrib.auth import base_user

    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    monkeypatch.setattr(base_user, "make_password", _make_password_once)
    call_command("seed_demo", stdout=io.StringIO())


def test_the_readme_api_examples_run_in_order(demo_data, tmp_path_factory):
    script = readme_api_block()
    workdir = tmp_path_factory.mktemp("readme-cwd")
    tmpdir = tmp_path_factory.mktemp("readme-tmp")

    # Invitees never answer: as for a reader who pastes the block within `make run`'s 3 s.
    with served(log_name="readme-server.log", SIMULATED_ANSWER_DELAY="-1") as url:
        run = subprocess.run(
            ["bash", "-c", ANNOUNCE_CURLS + script.replace(README_URL, f"B={url};")],
            cwd=workdir,
            env={**os.environ, "TMPDIR": str(tmpdir)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    if run.returncode != 0:
        announced = re.findall(r"^### (curl .*)$", run.stdout, re.M)
        pytest.fail(
            f"the README's API examples failed (exit {run.returncode}) after "
            f"{announced[-1] if announced else 'no printed curl'!r}:\n{run.stderr}"
            f"its output ended with:\n{run.stdout[-2000:]}"
        )
    assert run.stderr == ""
    # Nothing is left behind: not in the working directory, not even the temporary cookie jar.
    assert list(workdir.iterdir()) == []
    assert list(tmpdir.iterdir()) == []

    answers = re.split(r"^### curl (.*)\n", run.stdout, flags=re.M)[1:]
    commands, bodies = answers[0::2], answers[1::2]
    routes = [re.search(re.escape(url) + r"(\S*)", command).group(1) for command in commands]
    assert len(bodies) == 10, f"expected the answers of 10 curls, got those of {routes}"
    active, held, retried, resumed, invited, got, held_again, ended, signed_in, me = bodies
    routes.pop(2)  # the retry: the same answer, the call held once (the kinds below)
    assert retried == held

    active = ElementTree.fromstring(active.encode())
    assert active.tag.endswith("}AppGetActiveSessionsResult")

    held = json.loads(held)
    session_id = held["id"]
    assert (held["channel"], held["callState"], held["holdReason"]) == (
        "Voice",
        "Hold",
        "Transferring",
    )
    assert session_id in routes[1]

    resumed = json.loads(resumed)
    assert (resumed["id"], resumed["callState"], resumed["consoleData"]) == (
        session_id,
        "Connected",
        "ticket-42",
    )

    [invited] = csv.DictReader(io.StringIO(invited))
    assert invited["Id"] == session_id
    assert "Identity:+15557654321" in invited["Members"]

    got = ElementTree.fromstring(got.encode())
    assert got.tag.endswith("}SessionInfo")
    fields = {child.tag.rsplit("}", 1)[-1]: child.text for child in got}
    assert (fields["Id"], fields["CallState"], fields["ConsoleData"]) == (
        session_id,
        "Connected",
        "ticket-42",
    )

    assert routes[5].endswith("/api/HoldSession")
    held_again = json.loads(held_again)
    assert (held_again["id"], held_again["callState"]) == (session_id, "Hold")

    ended = json.loads(ended)
    assert (ended["id"], ended["callState"], ended["ended"]) == (session_id, "Disconnected", True)

    signed_in, me = json.loads(signed_in), json.loads(me)
    assert signed_in["userName"] == "acme-agent" and signed_in["sessionId"]
    assert routes[8].endswith("/auth")
    assert (me["userName"], me["accountNames"]) == ("acme-agent", ["Acme Telecom"])

    session = CallSession.objects.get(pk=session_id)
    assert session.call_state == CallState.DISCONNECTED
    kinds = list(session.events.filter(via=Via.API).values_list("kind", flat=True))
    assert kinds == [
        EventKind.HELD,
        EventKind.RESUMED,
        EventKind.MEMBER_INVITED,
        EventKind.HELD,
        EventKind.ENDED,
    ]
