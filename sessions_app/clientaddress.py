"""Where a request comes from: the address sign-in failures are counted under and an API
session records.

The socket's peer (`REMOTE_ADDR`) is the client, unless it is one of our own reverse proxies
(`TRUSTED_PROXIES`): then the client is the rightmost address in `X-Forwarded-For` that is not
one of them. Each proxy appends the peer it saw, so everything to the right of that address was
written by proxies we trust, and everything to its left by the client, who may write anything:
trusting the leftmost entry, as some libraries do, would let a client pick its own address and
escape its lockout. From any other peer the header is ignored.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(text: str) -> Address | None:
    """An address as proxies write it (`203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443`,
    `203.0.113.7:51234`), IPv4-mapped IPv6 read as the IPv4 address; None if it is none."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(request) -> str:
    """The client's address, normalised (`203.0.113.7`, `2001:db8::1`); "" if the server
    was not told (a Unix socket)."""
    peer = _parse(request.META.get("REMOTE_ADDR") or "")
    if peer is None:
        return ""
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not _trusted(peer, networks):
        return str(peer)
    client = peer
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed([hop for hop in hops if hop.strip()]):
        address = _parse(hop)
        if address is None:
            break  # not an address: keep the last one a trusted proxy vouched for
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
