"""Where a committee's webhook may point: a public https receiver, unless the configuration vouches for it.

A webhook URL is a way out for personal data, and a service on the inside of a
network is a way in to it: a URL resolving to a loopback, private or link-local
address (a database port, a cloud's metadata service) is refused.  Every
address the host resolves to is checked, when the committee is set and again
before each try (DNS may change), and the try connects to an address checked
(see ``webhook.post``).  Every refusal reads the same, so the field cannot be
used to map the inside network.

Plain Python: sockets and ``ipaddress``, no framework.
"""
import ipaddress
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared.errors import InvalidInput

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Never a receiver, whatever else ``ipaddress`` says of them.
BLOCKED = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
    "100.64.0.0/10", "::/128", "::1/128", "fc00::/7", "fe80::/10"))

REFUSED = ("webhook_url: must be an https URL whose host resolves to public internet addresses only "
           "(not loopback, private or link-local); a receiver on an internal network must be allow-listed "
           "(WEBHOOK_ALLOWED_HOSTS or WEBHOOK_ALLOWED_NETWORKS)")

Resolver = Callable[[str, int], Iterable[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


@dataclass(frozen=True)
class Destination:
    """A checked webhook URL: its host, port, and the addresses a try may connect to.

    ``addresses`` is empty for an allow-listed host: the operator vouched for its name.
    """

    url: str
    host: str
    port: int
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class AllowList:
    """Receivers on internal networks the operator vouches for (``WEBHOOK_ALLOWED_*``)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IpNetwork, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "AllowList":
        return cls(frozenset(h.lower() for h in config.get("WEBHOOK_ALLOWED_HOSTS") or ()),
                   tuple(ipaddress.ip_network(n, strict=False) for n in config.get("WEBHOOK_ALLOWED_NETWORKS") or ()))

    def vouches_for_host(self, host: str, port: int) -> bool:
        return host in self.hosts or f"{host}:{port}" in self.hosts

    def vouches_for(self, address: IpAddress) -> bool:
        return any(address in network for network in self.networks if network.version == address.version)


def is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(address in network for network in BLOCKED if network.version == address.version):
        return False
    return address.is_global and not address.is_multicast


def refused() -> InvalidInput:
    return InvalidInput(REFUSED, fields={"webhook_url": [REFUSED.removeprefix("webhook_url: ")]})


NOTHING_ALLOWED = AllowList()


def check(url: str, allowed: AllowList = NOTHING_ALLOWED, resolver: Resolver = resolve) -> Destination:
    """``url`` as a Destination if a webhook may go there; else InvalidInput naming ``webhook_url``.

    An allow-listed host (or a host all of whose addresses are in allow-listed
    networks) may be any address and plain http; any other must be https and public.
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise refused() from None
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise refused()
    if allowed.vouches_for_host(host, port):
        return Destination(url, host, port)
    try:
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port)]
    except (OSError, UnicodeError, ValueError):
        raise refused() from None  # not resolving reads like resolving inside: no oracle
    if not addresses:
        raise refused()
    if all(allowed.vouches_for(a) for a in addresses):
        return Destination(url, host, port, tuple(str(a) for a in addresses))
    if parts.scheme != "https" or not all(is_public(a) or allowed.vouches_for(a) for a in addresses):
        raise refused()
    return Destination(url, host, port, tuple(str(a) for a in addresses))
