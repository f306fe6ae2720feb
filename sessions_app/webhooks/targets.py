"""Which URLs a webhook may be sent to.

Only http and https, and, unless `WEBHOOK_ALLOW_PRIVATE_TARGETS` is on, only hosts whose every
address is public: a subscription must not turn the server into a way to reach the machines
around it (its own loopback, the private network, a cloud's metadata address). The check runs
when a subscription is made and again before every attempt, since a name can be made to
resolve elsewhere later (DNS rebinding); the attempt then connects to the address checked.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

MAX_URL_LENGTH = 2000


def _refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global
    )


def url_problem(url: str) -> str | None:
    """Why `url` is not a usable webhook target (a sentence), or None if it is. The form
    alone: no name is resolved."""
    if not url:
        return "'Url' must not be empty."
    if len(url) > MAX_URL_LENGTH:
        return f"'Url' must be {MAX_URL_LENGTH} characters or fewer."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return f"'{url}' is not a valid URL."
    if parts.scheme not in ("http", "https"):
        return "'Url' must be an http or https URL."
    if not parts.hostname:
        return "'Url' must name a host."
    if parts.username or parts.password:
        return "'Url' must not carry a user name or password."
    if any(ch.isspace() for ch in url):
        return "'Url' must not contain spaces."
    return None


@dataclass(frozen=True)
class Target:
    """Where a request to a webhook's URL may go: `refusal` (a sentence) if nowhere, else the
    address that was checked (None: as the URL says, when private targets are allowed)."""

    refusal: str | None
    address: str | None = None


def target_check(url: str) -> Target:
    """The form of the URL, then every address its host resolves to, as `Target`."""
    problem = url_problem(url)
    if problem or settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return Target(problem)
    parts = urlsplit(url)
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return Target(f"The host '{host}' cannot be resolved.")
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    for address in addresses:
        if _refused_address(address):
            return Target(
                f"The host '{host}' is on a loopback, private or reserved address ({address}): "
                "webhooks go to public addresses only."
            )
    if not addresses:
        return Target(f"The host '{host}' cannot be resolved.")
    return Target(None, str(addresses[0]))


def target_refusal(url: str) -> str | None:
    """Why the server will not send to `url` now (a sentence), or None."""
    return target_check(url).refusal


def pinned_request(url: str, address: str | None) -> tuple[str, dict, dict]:
    """(URL, headers, httpx extensions) that reach `url`'s host at the checked `address` and
    nowhere else: resolving the name a second time to connect could give another address (DNS
    rebinding). The name still goes in `Host` and, for TLS, in SNI, where the certificate is
    checked against it."""
    if address is None:
        return url, {}, {}
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=netloc)), {"host": parts.netloc}, extensions
