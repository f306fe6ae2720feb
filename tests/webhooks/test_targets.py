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
