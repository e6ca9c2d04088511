"""The client address behind trusted proxies (beacon.client_address) and its setting,
``BEACON_TRUSTED_PROXIES``."""

from __future__ import annotations

import ipaddress
import re

import pytest

from beacon.cli import main
from beacon.client_address import client_address, parse_networks
from beacon.config import load_settings
from beacon.errors import InvalidRequest

TRUSTED = parse_networks(["10.0.0.0/8", "192.0.2.1", "2001:db8:a::/48"])
PROXY = "10.0.0.1"
CLIENT = "198.51.100.7"

# (peer, X-Forwarded-For lines, expected client address)
CASES: list[tuple[str | None, list[str], str | None]] = [
    # The peer is not trusted: the header is ignored whatever it says.
    ("203.0.113.9", [CLIENT], "203.0.113.9"),
    ("203.0.113.9", ["10.0.0.5"], "203.0.113.9"),
    ("2001:db8:ffff::9", [CLIENT], "2001:db8:ffff::9"),
    ("192.0.2.2", [CLIENT], "192.0.2.2"),  # next to a trusted address, not in it
    # Peer without a usable address: returned as it is.
    (None, [CLIENT], None),
    ("", [CLIENT], ""),
    ("not-an-address", [CLIENT], "not-an-address"),
    ("fe80::1%eth0", [CLIENT], "fe80::1%eth0"),
    # Trusted peer, nothing forwarded: the peer.
    (PROXY, [], PROXY),
    (PROXY, [""], PROXY),
    (PROXY, [" , ,\t", ""], PROXY),
    # Trusted peer: the right-most untrusted entry.
    (PROXY, [CLIENT], CLIENT),
    ("192.0.2.1", [CLIENT], CLIENT),
    (PROXY, [f" \t{CLIENT}\t "], CLIENT),
    (PROXY, [f"{CLIENT},"], CLIENT),  # empty list elements are skipped
    (PROXY, [f"{CLIENT}, 10.0.0.2, 10.0.0.3"], CLIENT),
    (PROXY, [f"{CLIENT}, 10.0.0.2, 192.0.2.1, 2001:db8:a::5"], CLIENT),
    (PROXY, [CLIENT, "10.0.0.2", "10.0.0.3"], CLIENT),  # one chain over several lines
    (PROXY, [f"{CLIENT}, 10.0.0.2", "", "10.0.0.3"], CLIENT),
    # Spoofing: whatever a client wrote left of the address its proxy appended never counts.
    (PROXY, [f"6.6.6.6, {CLIENT}"], CLIENT),
    (PROXY, [f"6.6.6.6, 7.7.7.7, {CLIENT}"], CLIENT),
    (PROXY, ["6.6.6.6", CLIENT], CLIENT),  # the client's own header line, then the proxy's
    (PROXY, [f"10.0.0.9, {CLIENT}"], CLIENT),  # claiming to be a trusted proxy
    (PROXY, [f"2001:db8:a::9, {CLIENT}, 10.0.0.2"], CLIENT),
    (PROXY, [f"garbage, {CLIENT}"], CLIENT),
    (PROXY, [f"unknown, {CLIENT}"], CLIENT),
    (PROXY, [f"::ffff:10.0.0.9, {CLIENT}"], CLIENT),
    # Every entry trusted: the left-most, the furthest hop a trusted proxy vouched for.
    (PROXY, ["10.0.0.5"], "10.0.0.5"),
    (PROXY, ["10.0.0.5, 10.0.0.2"], "10.0.0.5"),
    (PROXY, ["10.0.0.5", "192.0.2.1", "2001:db8:a::7"], "10.0.0.5"),
    (PROXY, ["2001:db8:a::7, 10.0.0.2"], "2001:db8:a::7"),
    # Garbage stops the walk at the last genuine hop: the trusted one just right of it.
    (PROXY, ["garbage"], PROXY),
    (PROXY, [f"{CLIENT}, garbage"], PROXY),
    (PROXY, [f"{CLIENT}, garbage, 10.0.0.2"], "10.0.0.2"),
    (PROXY, [f"{CLIENT}, garbage", "10.0.0.2, 10.0.0.3"], "10.0.0.2"),
    (PROXY, ["unknown"], PROXY),
    (PROXY, ["client.example.org"], PROXY),
    (PROXY, ["_hidden"], PROXY),
    (PROXY, ["for=198.51.100.7"], PROXY),  # Forwarded syntax is not an address
    (PROXY, ["198.51.100.7;proto=https"], PROXY),
    (PROXY, ["010.0.0.1"], PROXY),  # leading zeros: ambiguous (octal?), refused
    (PROXY, ["198.51.100"], PROXY),
    (PROXY, ["198.51.100.256"], PROXY),
    (PROXY, ["198.51.100.7/32"], PROXY),
    (PROXY, ["198.51.100.7 198.51.100.8"], PROXY),
    (PROXY, ["198.51.100.7:"], PROXY),
    (PROXY, ["198.51.100.7:99999"], PROXY),
    (PROXY, ["198.51.100.7:0x50"], PROXY),
    (PROXY, ["198.51.100.7:-1"], PROXY),
    (PROXY, ["198.51.100.7:٨٠"], PROXY),  # non-ASCII digits
    (PROXY, ["[198.51.100.7]"], PROXY),  # brackets hold IPv6 only
    (PROXY, ["[2001:db8::1"], PROXY),
    (PROXY, ["[2001:db8::1]x"], PROXY),
    (PROXY, ["[2001:db8::1]:"], PROXY),
    (PROXY, ["[[2001:db8::1]]"], PROXY),
    (PROXY, ["fe80::1%eth0"], PROXY),  # zone ids mean nothing beyond the proxy's host
    (PROXY, ["[fe80::1%25eth0]:80"], PROXY),
    (PROXY, ["2001:db8:::1"], PROXY),
    (PROXY, ['"198.51.100.7"'], PROXY),
    (PROXY, ["\x00"], PROXY),
    # Ports are dropped (some load balancers append them).
    (PROXY, ["198.51.100.7:4711"], CLIENT),
    (PROXY, ["6.6.6.6:1, 198.51.100.7:65535"], CLIENT),
    (PROXY, ["198.51.100.7, 10.0.0.2:443"], CLIENT),
    # IPv6 clients: bare, bracketed, with a port; returned in canonical form.
    (PROXY, ["2001:db8:beef::1"], "2001:db8:beef::1"),
    (PROXY, ["2001:DB8:BEEF:0:0:0:0:1"], "2001:db8:beef::1"),
    (PROXY, ["[2001:db8:beef::1]"], "2001:db8:beef::1"),
    (PROXY, ["[2001:db8:beef::1]:4711"], "2001:db8:beef::1"),
    (PROXY, ["2001:db8:beef::1:80"], "2001:db8:beef::1:80"),  # bare IPv6 never has a port
    (PROXY, ["::1"], "::1"),
    (PROXY, ["2001:db8:beef::1, [2001:db8:a::2]:8080"], "2001:db8:beef::1"),
    ("2001:db8:a::1", [CLIENT], CLIENT),  # an IPv6 proxy
    ("2001:db8:a::1", ["2001:db8:beef::1, 2001:db8:a::2"], "2001:db8:beef::1"),
    # IPv4-mapped IPv6 is its IPv4 address, for the peer and for entries.
    ("::ffff:10.0.0.1", [CLIENT], CLIENT),
    ("::ffff:203.0.113.9", [CLIENT], "::ffff:203.0.113.9"),  # untrusted peer: as it is
    (PROXY, ["::ffff:198.51.100.7"], CLIENT),
    (PROXY, ["[::ffff:198.51.100.7]:80"], CLIENT),
    (PROXY, [f"{CLIENT}, ::ffff:10.0.0.2"], CLIENT),
]


@pytest.mark.parametrize(("peer", "lines", "expected"), CASES)
def test_client_address(peer: str | None, lines: list[str], expected: str | None) -> None:
    assert client_address(peer, lines, TRUSTED) == expected


@pytest.mark.parametrize("lines", [[CLIENT], ["6.6.6.6, 10.0.0.5"], ["garbage"], []])
def test_nothing_trusted_means_the_peer(lines: list[str]) -> None:
    for peer in (PROXY, "127.0.0.1", "::1", None):
        assert client_address(peer, lines, ()) == peer


def test_lines_are_read_in_order_and_only_once() -> None:
    # An iterator (not a list) works: the lines are read once.
    assert client_address(PROXY, iter([CLIENT, "10.0.0.2"]), TRUSTED) == CLIENT


def test_trusting_everything_lets_a_direct_caller_choose() -> None:
    """Why only proxies belong in the setting: a trusted caller is believed."""
    everyone = parse_networks(["0.0.0.0/0"])
    assert client_address("203.0.113.9", ["6.6.6.6"], everyone) == "6.6.6.6"


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([], ()),
        (["127.0.0.1"], (ipaddress.ip_network("127.0.0.1/32"),)),
        (
            [" 10.0.0.0/8", "::1 ", "2001:db8::/32", "192.0.2.0/24"],
            tuple(
                ipaddress.ip_network(n)
                for n in ("10.0.0.0/8", "::1", "2001:db8::/32", "192.0.2.0/24")
            ),
        ),
        (["0.0.0.0/0"], (ipaddress.ip_network("0.0.0.0/0"),)),
    ],
)
def test_parse_networks(entries: list[str], expected: tuple[object, ...]) -> None:
    assert parse_networks(entries) == expected


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("localhost", "not an IP address or CIDR network"),
        ("proxy.example.org", "not an IP address or CIDR network"),
        ("10.0.0.0/33", "not an IP address or CIDR network"),
        ("10.0.0", "not an IP address or CIDR network"),
        ("010.0.0.1", "not an IP address or CIDR network"),
        ("[::1]", "not an IP address or CIDR network"),
        ("10.0.0.1:80", "not an IP address or CIDR network"),
        ("*", "not an IP address or CIDR network"),
        ("10.0.0.1/8", "has host bits set (the network is 10.0.0.0/8)"),
        ("2001:db8::1/32", "has host bits set (the network is 2001:db8::/32)"),
        ("fe80::1%eth0", "zone ids"),
    ],
)
def test_parse_networks_refuses(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(repr(entry))) as info:
        parse_networks(["10.0.0.0/8", entry])
    assert message in str(info.value)


def test_setting_is_read() -> None:
    assert load_settings({}).trusted_proxies == ()
    assert load_settings({"BEACON_TRUSTED_PROXIES": " "}).trusted_proxies == ()
    settings = load_settings({"BEACON_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,,fd00::/8"})
    assert settings.trusted_proxies == parse_networks(["127.0.0.1", "10.0.0.0/8", "fd00::/8"])


def test_bad_setting_is_a_configuration_error() -> None:
    with pytest.raises(InvalidRequest) as info:
        load_settings({"BEACON_TRUSTED_PROXIES": "10.0.0.1, proxy.internal"})
    assert info.value.message.startswith("BEACON_TRUSTED_PROXIES: 'proxy.internal' is not")


def test_serve_refuses_to_start_with_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BEACON_TRUSTED_PROXIES", "10.0.0.1/8")
    assert main(["serve"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "beacon: BEACON_TRUSTED_PROXIES: '10.0.0.1/8' has host bits set "
        "(the network is 10.0.0.0/8)\n"
    )
