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


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


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
                                          f"address ({bad[0]})")
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
