"""The client's address (`sessions_app.clientaddress`): the socket's peer, or, from a trusted
proxy only, the rightmost address in X-Forwarded-For that is not a trusted proxy."""

import pytest
from django.test import RequestFactory

from sessions_app.clientaddress import client_address


def address(remote_addr="203.0.113.5", forwarded=None, proxies=(), settings=None) -> str:
    settings.TRUSTED_PROXIES = list(proxies)
    meta = {"REMOTE_ADDR": remote_addr}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **meta))


def test_the_socket_peer_without_trusted_proxies(settings):
    assert address(forwarded="198.51.100.1", settings=settings) == "203.0.113.5"


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(settings):
    got = address(forwarded="198.51.100.1", proxies=["10.0.0.0/8"], settings=settings)

    assert got == "203.0.113.5"


def test_a_trusted_proxy_names_the_client(settings):
    got = address("10.0.0.1", "198.51.100.1", proxies=["10.0.0.1"], settings=settings)

    assert got == "198.51.100.1"


def test_the_rightmost_untrusted_address_wins_over_what_the_client_wrote(settings):
    got = address(
        "10.0.0.1",
        "192.0.2.66, 198.51.100.1, 10.0.0.2",  # the client wrote the first one itself
        proxies=["10.0.0.0/8"],
        settings=settings,
    )

    assert got == "198.51.100.1"


def test_repeated_headers_read_as_one_list(settings):
    got = address("10.0.0.1", "192.0.2.66,198.51.100.1", proxies=["10.0.0.1"], settings=settings)

    assert got == "198.51.100.1"


def test_when_every_hop_is_trusted_the_first_one_is_the_client(settings):
    got = address("10.0.0.1", "10.0.0.3, 10.0.0.2", proxies=["10.0.0.0/8"], settings=settings)

    assert got == "10.0.0.3"


def test_a_trusted_proxy_without_the_header_is_the_client(settings):
    assert address("10.0.0.1", proxies=["10.0.0.1"], settings=settings) == "10.0.0.1"


def test_a_malformed_entry_stops_at_the_last_address_a_trusted_proxy_gave(settings):
    got = address(
        "10.0.0.1", "198.51.100.1, unknown, 10.0.0.2", proxies=["10.0.0.0/8"], settings=settings
    )

    assert got == "10.0.0.2"


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("198.51.100.1:51234", "198.51.100.1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8:0::1", "2001:db8::1"),
        ("::ffff:198.51.100.1", "198.51.100.1"),
    ],
)
def test_addresses_are_read_as_proxies_write_them_and_normalised(written, read, settings):
    assert address("10.0.0.1", written, proxies=["10.0.0.1"], settings=settings) == read


def test_ipv6_proxies_and_peers(settings):
    got = address("2001:db8::10", "198.51.100.1", proxies=["2001:db8::/64"], settings=settings)

    assert got == "198.51.100.1"
    assert address("::ffff:203.0.113.5", settings=settings) == "203.0.113.5"


def test_no_peer_address_is_empty(settings):
    assert address("", settings=settings) == ""
