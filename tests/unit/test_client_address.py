"""client_address (src/anima/http/context.py): X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anima.http.context import client_address, parse_networks

PROXIES = parse_networks(("10.0.0.0/8", "192.168.1.1", "fd00::/8"))


def test_header_ignored_without_trusted_proxies() -> None:
    assert client_address("203.0.113.7", "1.2.3.4", []) == "203.0.113.7"
    assert client_address("10.0.0.5", "1.2.3.4", []) == "10.0.0.5"


def test_header_ignored_when_the_peer_is_not_trusted() -> None:
    """A client talking to us directly cannot choose its address by sending the header."""
    assert client_address("203.0.113.7", "1.2.3.4", PROXIES) == "203.0.113.7"
    assert client_address("203.0.113.7", "10.0.0.1, 1.2.3.4", PROXIES) == "203.0.113.7"


def test_trusted_peer_without_header_is_the_peer() -> None:
    assert client_address("10.0.0.5", None, PROXIES) == "10.0.0.5"
    assert client_address("10.0.0.5", "", PROXIES) == "10.0.0.5"
    assert client_address("10.0.0.5", " , ", PROXIES) == "10.0.0.5"


def test_right_most_untrusted_hop_wins() -> None:
    # the client may prepend anything; only the hop our proxy appended is believed
    assert client_address("10.0.0.5", "6.6.6.6, 198.51.100.20", PROXIES) == "198.51.100.20"
    assert client_address("10.0.0.5", "198.51.100.20", PROXIES) == "198.51.100.20"


def test_a_chain_of_trusted_proxies_is_walked() -> None:
    assert client_address("10.0.0.5", "6.6.6.6, 198.51.100.20, 192.168.1.1, 10.1.2.3", PROXIES) == "198.51.100.20"


def test_ipv6_hops() -> None:
    assert client_address("fd00::1", "2001:db8::9, fd00::2", PROXIES) == "2001:db8::9"
    assert client_address("2001:db8::1", "2001:db8::9", PROXIES) == "2001:db8::1"


def test_every_hop_trusted_returns_the_left_most() -> None:
    assert client_address("10.0.0.5", "10.0.0.9, 192.168.1.1", PROXIES) == "10.0.0.9"


@pytest.mark.parametrize("bad", ["unknown", "evil.example", "1.2.3.4:5678", "999.0.0.1", "'; DROP TABLE x", "_hidden"])
def test_malformed_hop_stops_the_walk(bad: str) -> None:
    # the malformed hop is right after our proxy: believe nothing beyond the peer
    assert client_address("10.0.0.5", f"198.51.100.20, {bad}", PROXIES) == "10.0.0.5"
    # behind a trusted hop: the last address we could believe is that trusted hop
    assert client_address("10.0.0.5", f"198.51.100.20, {bad}, 10.0.0.9", PROXIES) == "10.0.0.9"
    # the result is never the malformed text
    assert client_address("10.0.0.5", bad, PROXIES) != bad


def test_missing_peer() -> None:
    assert client_address(None, "1.2.3.4", PROXIES) == "unknown"
    assert client_address(None, None, []) == "unknown"


ips = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)
header_values = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.lists(st.one_of(ips, st.text(max_size=12)), max_size=6).map(", ".join),
)


@settings(max_examples=200, deadline=None)
@given(peer=ips, header=header_values)
def test_without_trusted_proxies_the_result_is_always_the_peer(peer: str, header: str | None) -> None:
    assert client_address(peer, header, []) == peer


@settings(max_examples=200, deadline=None)
@given(peer=ips, header=header_values)
def test_untrusted_peer_is_always_the_result(peer: str, header: str | None) -> None:
    if any(ipaddress.ip_address(peer) in net for net in PROXIES):
        return
    assert client_address(peer, header, PROXIES) == peer


@settings(max_examples=200, deadline=None)
@given(hops=st.lists(ips, min_size=1, max_size=6))
def test_with_trusted_peer_result_is_a_valid_address_from_the_chain(hops: list[str]) -> None:
    result = client_address("10.0.0.5", ", ".join(hops), PROXIES)
    assert result in hops
    # everything to the right of the result is a trusted proxy
    index = len(hops) - 1 - hops[::-1].index(result)
    for hop in hops[index + 1 :]:
        assert any(ipaddress.ip_address(hop) in net for net in PROXIES)
