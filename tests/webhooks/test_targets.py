"""Which URLs a webhook may go to: http(s) only, and no loopback, private, link-local or
reserved address unless WEBHOOK_ALLOW_PRIVATE_TARGETS is on. Only IP literals and `localhost`
here: nothing is looked up on the network."""

import pytest

from sessions_app.webhooks.targets import target_refusal, url_problem


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://example.com/hook",
        "javascript:alert(1)",
        "http:///no-host",
        "https://user:pw@example.com/hook",
        "http://example.com:notaport/",
        "http://exa mple.com/",
        "https://example.com/" + "x" * 2000,
    ],
)
def test_malformed_urls_are_refused(url):
    assert url_problem(url) is not None


@pytest.mark.parametrize("url", ["http://example.com/hook", "https://example.com:8443/a?b=c"])
def test_http_and_https_urls_are_well_formed(url):
    assert url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.64.0.1/",
        "http://240.0.0.1/",
    ],
)
def test_private_targets_are_refused_unless_allowed(url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    refusal = target_refusal(url)
    assert refusal is not None and "public addresses only" in refusal

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    assert target_refusal(url) is None


def test_a_public_address_is_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    assert target_refusal("https://8.8.8.8/hook") is None


def test_a_malformed_url_is_refused_even_when_private_targets_are_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    assert target_refusal("file:///etc/passwd") == "'Url' must be an http or https URL."


def test_an_attempt_connects_to_the_address_it_checked(settings, monkeypatch):
    """DNS rebinding: the name is resolved once, checked, and the request goes to that very
    address (the name in Host and in TLS's SNI), so a second answer pointing at the private
    network is never asked for."""
    import socket

    import httpx

    from sessions_app.webhooks import delivery, services, targets

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    answers = iter(["93.184.216.34", "127.0.0.1"])  # public first, then rebound to loopback

    def getaddrinfo(host, port, *args, **kwargs):
        assert host == "hooks.example"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(targets.socket, "getaddrinfo", getaddrinfo)
    seen = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    claimed = services.Claimed(
        delivery_id=1,
        subscription_id="w",
        token="t",
        url="https://hooks.example:8443/in?x=1",
        secret="whsec_" + "QUJD" * 8,
        message_id="42",
        body="{}",
    )
    with httpx.Client(transport=httpx.MockTransport(receiver)) as client:
        outcome = delivery.send(claimed, client)

    assert outcome.succeeded
    [request] = seen
    assert str(request.url) == "https://93.184.216.34:8443/in?x=1"
    assert request.headers["host"] == "hooks.example:8443"
    assert request.extensions["sni_hostname"] == "hooks.example"
    assert next(answers) == "127.0.0.1"  # resolved once: the rebound answer was never used


@pytest.mark.parametrize(
    ("url", "address", "expected"),
    [
        ("http://hooks.example/in", "93.184.216.34", "http://93.184.216.34/in"),
        ("http://hooks.example:81/in", "2001:db8::1", "http://[2001:db8::1]:81/in"),
        ("http://127.0.0.1:9000/in", None, "http://127.0.0.1:9000/in"),  # private allowed
    ],
)
def test_pinned_requests_keep_the_port_path_and_name(url, address, expected):
    from sessions_app.webhooks.targets import pinned_request

    pinned, headers, extensions = pinned_request(url, address)

    assert pinned == expected
    assert extensions == {}
    assert headers == ({"host": url.split("/")[2]} if address else {})
