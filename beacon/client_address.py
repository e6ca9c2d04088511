"""The client address of a request, seen through trusted reverse proxies.

A beacon keys anonymous callers' query budgets, the audit log and the access log on the
client address. Behind a reverse proxy or load balancer the peer of every connection is the
proxy, so the operator lists the proxies' addresses (``BEACON_TRUSTED_PROXIES``) and the
beacon reads the address those proxies record in ``X-Forwarded-For``.

Contract of :func:`client_address` (pure; no I/O, no logging):

* **Nothing trusted, or the peer not trusted**: the peer address, unchanged, whatever the
  headers say. A caller talking to the beacon directly cannot move its budget by sending
  ``X-Forwarded-For``.
* **The peer is trusted**: the ``X-Forwarded-For`` lines are joined in the order received
  (several lines are one comma-separated list, RFC 9110 5.3) and walked from the right, i.e.
  from the hop nearest the beacon. Empty list elements are skipped. Trusted addresses are
  skipped; the first untrusted address is the client (the right-most-untrusted rule, as
  nginx ``real_ip_recursive on``). Each address to the left of it was written by the client
  or by a proxy we do not trust, so it is never read: a caller that sends its own
  ``X-Forwarded-For`` through a trusted proxy that appends only gets the address that proxy
  appended.
* **An entry that is not an IP address** (garbage, ``unknown``, a host name, an obfuscated
  identifier) stops the walk, and the answer is the last hop known to be genuine: the trusted
  address just to its right (the peer itself when the garbage is the right-most entry). That
  hop is the proxy which passed the garbage on; attributing the request to it shares that
  proxy's budget rather than letting unverifiable text choose one.
* **Every entry trusted** (a chain of internal proxies): the left-most entry, the furthest
  hop any trusted proxy vouched for. No header, or only empty elements: the peer.

Entries may be a bare IPv4 or IPv6 address, ``[IPv6]``, ``IPv4:port`` or ``[IPv6]:port``
(some load balancers add the port); the port is dropped. Zone ids (``%eth0``) and anything else
are garbage. Addresses taken from the header are returned in canonical form
(``2001:db8::1``); an IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is treated, matched and
returned as its IPv4 address, so one client cannot appear under two spellings.

Only ``X-Forwarded-For`` is read, never ``Forwarded`` (RFC 7239). A proxy that writes one of
the two passes a caller's copy of the other through untouched; reading both, or falling back
from one to the other, would let a caller choose its address. Configure the proxy to set
``X-Forwarded-For`` (nginx ``$proxy_add_x_forwarded_for``, HAProxy ``option forwardfor``).

A caller whose own address lies in a trusted network is believed like a proxy: trust only
the proxies' addresses, never a whole client network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Trusted proxies from ``entries`` (IP addresses or CIDR networks, IPv4 or IPv6).

    Raises :class:`ValueError` naming the first entry that is not one, including a network
    with host bits set (``10.0.0.1/8``: probably a typo for ``10.0.0.1`` or ``10.0.0.0/8``).
    """
    networks: list[Network] = []
    for entry in entries:
        text = entry.strip()
        if "%" in text:
            raise ValueError(f"{entry!r}: zone ids (%...) are not supported")
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise ValueError(
                f"{entry!r} is not an IP address or CIDR network (e.g. 10.0.0.0/8, 2001:db8::/32)"
            ) from exc
        try:
            networks.append(ipaddress.ip_network(text))
        except ValueError as exc:
            raise ValueError(f"{entry!r} has host bits set (the network is {loose})") from exc
    return tuple(networks)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str | None:
    """The client address of a request from ``peer`` carrying the ``X-Forwarded-For`` header
    lines ``forwarded_for``, given the ``trusted`` proxy networks (see the module docstring)."""
    if not trusted or not peer:
        return peer
    peer_ip = _parse_peer(peer)
    if peer_ip is None or not _is_trusted(peer_ip, trusted):
        return peer
    hops = [hop.strip(" \t") for line in forwarded_for for hop in line.split(",")]
    genuine = peer
    for hop in reversed(hops):
        if not hop:
            continue
        ip = _parse_hop(hop)
        if ip is None:
            return genuine
        genuine = str(ip)
        if not _is_trusted(ip, trusted):
            return genuine
    return genuine


def _unmapped(ip: Address) -> Address:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _is_trusted(ip: Address, trusted: Sequence[Network]) -> bool:
    return any(ip in network for network in trusted)


def _parse_peer(peer: str) -> Address | None:
    """The peer as the socket reports it (a link-local IPv6 peer may carry a zone id)."""
    try:
        return _unmapped(ipaddress.ip_address(peer))
    except ValueError:
        return None


def _parse_hop(hop: str) -> Address | None:
    """One ``X-Forwarded-For`` entry, or ``None`` when it is not an address (see module)."""
    if "%" in hop:
        return None
    host = hop
    if hop.startswith("["):
        end = hop.find("]")
        if end < 0 or not _port_or_nothing(hop[end + 1 :]):
            return None
        host = hop[1:end]
        if ":" not in host:  # brackets hold IPv6 only
            return None
    elif hop.count(":") == 1:  # IPv4:port (a bare IPv6 address has at least two colons)
        host, _, port = hop.partition(":")
        if not _port_or_nothing(":" + port):
            return None
    try:
        return _unmapped(ipaddress.ip_address(host))
    except ValueError:
        return None


def _port_or_nothing(rest: str) -> bool:
    if rest == "":
        return True
    digits = rest[1:]
    return (
        rest[0] == ":"
        and 0 < len(digits) <= 5
        and digits.isascii()
        and digits.isdigit()
        and int(digits) <= 65535
    )
