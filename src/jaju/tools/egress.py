"""The egress guard: the one way tools reach the network.

A request may go only to a host the tool declares (`network` permission, globs allowed). The
name is resolved first and every address it resolves to must be public — loopback, private,
link-local, shared, multicast and reserved addresses are refused unless the operator allows
that host explicitly — and the connection is then made to the address that was checked (the
original name still goes in the Host header and TLS SNI), so a DNS answer that changes between
check and connect (rebinding) cannot smuggle a request to an internal service.

    transport = egress_transport(Egress(hosts=("api.example.kr",)))
    httpx.AsyncClient(transport=transport)
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from jaju.errors import EgressRefused

Resolver = Callable[[str, int], list[str]]


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
"""RFC 6052: the IPv4 address is the last 32 bits; a translator connects to it."""
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
"""RFC 8215 local-use NAT64: the operator picks the prefix length (/48 … /96)."""
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
"""Deprecated IPv4-compatible addresses (`::7f00:1` is 127.0.0.1); `::` and `::1` excepted."""
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
"""RFC 2765 (SIIT) IPv4-translated addresses."""


def _rfc6052_candidates(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 address a NAT64 prefix of each RFC 6052 length (/32 … /96) would embed; bits
    64–71 (the "u" octet) are skipped."""
    raw = ip.packed
    spans = {96: raw[12:16], 64: raw[9:13], 56: raw[7:8] + raw[9:12],
             48: raw[6:8] + raw[9:11], 40: raw[5:8] + raw[9:10], 32: raw[4:8]}
    return [ipaddress.IPv4Address(b) for b in spans.values()]


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to when it is a transition form: IPv4-mapped,
    IPv4-compatible, SIIT-translated, NAT64 (well-known and local-use), 6to4 and Teredo (its
    server and its client). Empty for an ordinary IPv6 address."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    if ip in NAT64_WELL_KNOWN or ip in IPV4_TRANSLATED:
        return [ipaddress.IPv4Address(ip.packed[12:])]
    if ip in NAT64_LOCAL:
        return _rfc6052_candidates(ip)
    if ip in IPV4_COMPATIBLE and int(ip) > 1:
        return [ipaddress.IPv4Address(ip.packed[12:])]
    return []


def _public_v4(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not ip.is_multicast


def is_public(address: str) -> bool:
    """Whether an address is one a tool may reach without the operator's say-so. An IPv6
    address that carries an IPv4 address (NAT64, 6to4, Teredo, IPv4-mapped, -compatible or
    -translated) is judged by that address: `64:ff9b::a00:1` is 10.0.0.1, so it is refused. A
    local-use NAT64 address (64:ff9b:1::/48) is refused if any prefix length the operator may
    have chosen makes it a non-public IPv4 address."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return _public_v4(ip)
    embedded = embedded_ipv4(ip)
    if embedded:
        return all(_public_v4(v4) for v4 in embedded)
    return ip.is_global and not ip.is_multicast


def _describe(address: str) -> str:
    """`64:ff9b::a00:1 → 10.0.0.1` for a transition form, the address itself otherwise."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        bad = dict.fromkeys(str(v4) for v4 in embedded_ipv4(ip) if not _public_v4(v4))
        if bad:
            return f"{address} → {', '.join(bad)}"
    return address


@dataclass(frozen=True)
class Egress:
    hosts: tuple[str, ...] = ()
    """Declared hosts (globs such as `*.example.kr`); nothing else is reachable."""
    allow_private: bool | tuple[str, ...] = False
    """True, or the hosts whose non-public addresses are allowed (operator's decision)."""
    resolve: Resolver = system_resolve

    def declared(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(fnmatch.fnmatchcase(host, p.lower()) for p in self.hosts)

    def _private_ok(self, host: str) -> bool:
        if isinstance(self.allow_private, bool):
            return self.allow_private
        return any(fnmatch.fnmatchcase(host.lower(), p.lower()) for p in self.allow_private)

    def check(self, host: str, port: int) -> str:
        """The address to connect to, or EgressRefused."""
        if not host:
            raise EgressRefused(host, "no host")
        if not self.declared(host):
            raise EgressRefused(host, "not among the hosts this tool declares")
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
            addresses = [str(literal)]
        except ValueError:
            try:
                addresses = self.resolve(host, port)
            except OSError as e:
                raise EgressRefused(host, f"name does not resolve ({e})") from e
        if not addresses:
            raise EgressRefused(host, "name does not resolve")
        if not self._private_ok(host):
            bad = [a for a in addresses if not is_public(a)]
            if bad:
                raise EgressRefused(host, f"resolves to a loopback, private or link-local "
                                          f"address ({_describe(bad[0])})")
        return addresses[0]

    async def acheck(self, host: str, port: int) -> str:
        try:
            ipaddress.ip_address(host.strip("[]"))
            return self.check(host, port)  # an address: nothing to resolve
        except ValueError:
            return await asyncio.to_thread(self.check, host, port)  # DNS may block


def egress_transport(egress: Egress, httpx_module: ModuleType | None = None, **kwargs: Any) -> Any:
    """An async transport for httpx (or the httpx2 fork the MCP SDK uses) that lets requests
    through the egress guard only, pinned to the checked address."""
    import httpx

    base = (httpx_module or httpx).AsyncHTTPTransport

    class PinnedTransport(base):  # type: ignore[misc,valid-type]
        async def handle_async_request(self, request: Any) -> Any:
            url = request.url
            host = url.host
            port = url.port or (443 if url.scheme == "https" else 80)
            address = await egress.acheck(host, port)
            if address != host:
                if url.scheme == "https":
                    request.extensions = {**request.extensions, "sni_hostname": host}
                request.url = url.copy_with(host=address)
            return await super().handle_async_request(request)

    return PinnedTransport(**kwargs)
