"""What the webhook tests share: a real HTTP receiver on loopback that answers as scripted and
keeps every request, and a Manager of the test account."""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sessions_app.models import Role
from sessions_app.webhooks import services as webhook_services
from tests.factories import UserFactory


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict
    body: str


@dataclass
class Answer:
    """How the receiver answers one request: status, headers, body, and a delay first."""

    status: int = 200
    headers: dict = field(default_factory=dict)
    body: str = "ok"
    delay: float = 0.0


class Receiver:
    """A webhook receiver on a free loopback port (a real `http.server`): answers the scripted
    `answers` in order, then `Answer()` (200), and records every request."""

    def __init__(self):
        self.requests: list[Received] = []
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode()
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    answer = receiver.answers.pop(0) if receiver.answers else Answer()
                if answer.delay:
                    time.sleep(answer.delay)
                payload = answer.body.encode()
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (a timeout test)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def answer(self, *answers: Answer) -> None:
        with self._lock:
            self.answers.extend(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def manager(account):
    return UserFactory(username="mona", role=Role.MANAGER, accounts=[account])


@pytest.fixture
def fast_retries(settings):
    """A short retry schedule (three attempts, 50 ms apart) so the tests can run it out."""
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 0.05, 0.05]
    return settings.WEBHOOK_RETRY_SCHEDULE


def subscribe(manager, url: str, **options):
    """A subscription made by `manager` through the service, as the API and portal do."""
    return webhook_services.webhook_create(user=manager, url=url, **options)


from tests.test_readme import demo_data  # noqa: E402, F401 - the README's demo data, for ours
