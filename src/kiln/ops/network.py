"""The client's address, and address allow-lists.

Behind a reverse proxy every request comes from the proxy; `X-Forwarded-For` names the client
but anyone can send it. Like GitLab's `trusted_proxies`, it is believed only when it arrives
from an address in KILN_TRUSTED_PROXIES (loopback by default), walking the list from the right
past trusted hops.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Iterable

from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def parse_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """Networks from `10.0.0.0/8`-style entries (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _trusted_proxies() -> tuple[Network, ...]:
    raw = os.environ.get("KILN_TRUSTED_PROXIES", "127.0.0.1,::1")
    return parse_networks(tuple(e for e in raw.split(",") if e.strip()))


def address_in(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the forwarded one when a trusted proxy sent it."""
    cached = getattr(request, "_kiln_client_ip", None)
    if cached is not None:
        return str(cached)
    remote = str(request.META.get("REMOTE_ADDR", ""))
    address = remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and address_in(remote, _trusted_proxies()):
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            address = hop
            if not address_in(hop, _trusted_proxies()):
                break
        try:
            ipaddress.ip_address(address)
        except ValueError:
            address = remote
    request._kiln_client_ip = address  # type: ignore[attr-defined]
    return address
