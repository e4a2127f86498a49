"""The egress guard on IPv6 forms that carry an IPv4 address: each is judged by that address,
whether it is written in the URL or comes back from DNS."""

from __future__ import annotations

import ipaddress

import pytest

from jaju.tools.egress import Egress, EgressRefused, embedded_ipv4, is_public

# (IPv6 form, the IPv4 address it leads to)
INSIDE = [
    ("64:ff9b::a00:1", "10.0.0.1"),                           # NAT64 well-known prefix
    ("64:ff9b::7f00:1", "127.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"),                # cloud metadata through NAT64
    ("64:ff9b::192.168.0.1", "192.168.0.1"),
    ("64:ff9b:1::a00:1", "10.0.0.1"),                         # NAT64 local-use /48, /96 layout
    ("64:ff9b:1:a00:0:100::", "10.0.0.1"),                    # local-use, /48 layout
    ("2002:a00:1::1", "10.0.0.1"),                            # 6to4
    ("2002:7f00:1::", "127.0.0.1"),
    ("2002:c0a8:101::1", "192.168.1.1"),
    ("::7f00:1", "127.0.0.1"),                                # IPv4-compatible (deprecated)
    ("::10.0.0.1", "10.0.0.1"),
    ("::ffff:10.0.0.1", "10.0.0.1"),                          # IPv4-mapped
    ("::ffff:7f00:1", "127.0.0.1"),
    ("::ffff:0:a00:1", "10.0.0.1"),                           # IPv4-translated (SIIT)
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.1"),     # Teredo: client 10.0.0.1
    ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "10.0.0.1"),         # Teredo: server 10.0.0.1
]

# the same forms around public IPv4 addresses are reachable
OUTSIDE = ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "::808:808",
           "2001:0:4136:e378:8000:63bf:f7f7:f7f7", "2001:4860:4860::8888", "8.8.8.8"]


@pytest.mark.parametrize(("address", "inside"), INSIDE)
def test_transition_forms_are_judged_by_their_ipv4_address(address, inside):
    assert not is_public(address)
    assert inside in [str(v4) for v4 in embedded_ipv4(ipaddress.ip_address(address))]
    # written as a literal in the URL (httpx gives the host without brackets)
    with pytest.raises(EgressRefused, match="loopback, private or link-local") as e:
        Egress(hosts=(address,)).check(address, 443)
    assert inside in str(e.value)  # the message names the IPv4 address it leads to
    # or returned by DNS for a declared name (an AAAA record pointing inside)
    dns = Egress(hosts=("api.example.kr",), resolve=lambda h, p: [address])
    with pytest.raises(EgressRefused, match="loopback, private or link-local"):
        dns.check("api.example.kr", 443)
    # the operator may still allow it on purpose
    allowed = Egress(hosts=("api.example.kr",), allow_private=True, resolve=lambda h, p: [address])
    assert allowed.check("api.example.kr", 443) == address


@pytest.mark.parametrize("address", OUTSIDE)
def test_transition_forms_of_public_addresses_pass(address):
    assert is_public(address)
    egress = Egress(hosts=("api.example.kr",), resolve=lambda h, p: [address])
    assert egress.check("api.example.kr", 443) == address


def test_local_use_nat64_is_refused_when_any_prefix_length_points_inside():
    # 64:ff9b:1::/48 is site-specific: the operator chooses the prefix length, so an address
    # is public only if it is public under every layout RFC 6052 allows
    assert not is_public("64:ff9b:1::808:808")  # 8.8.8.8 as /96, but 0.0.0.0 as /48
    assert not is_public("64:ff9b:1:a00:0:100::")


def test_plain_ipv6_is_unchanged():
    assert embedded_ipv4(ipaddress.ip_address("2600::1")) == []
    for address in ("::1", "::", "fe80::1", "fd00::1", "ff02::1"):
        assert not is_public(address), address
