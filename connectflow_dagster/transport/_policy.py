"""The outbound network policy: which resolved addresses a node or a credential test may connect to.

Every outbound connection (HTTP through the shared transport, litellm, SMTP) asks ``pinned_addresses``
for the addresses it may use. The host is resolved ONCE through a ``Resolver`` (the one-method seam
tests replace), every resolved address is checked, and the caller connects to exactly those addresses:
what was checked is what is dialled, so a DNS answer that changes between check and connect (DNS
rebinding) cannot reach an internal address.

Refused unless the operator allows them (``CONNECTFLOW_NETWORK_ALLOW``, hosts and CIDRs): loopback,
private (RFC 1918, ULA), link-local (cloud metadata 169.254.169.254 included), CGNAT 100.64/10,
multicast, unspecified (0.0.0.0, ::), reserved and every other non-public range; IPv6 forms that
embed an IPv4 address (mapped ``::ffff:a.b.c.d``, compatible ``::a.b.c.d``, NAT64, 6to4) are judged by
the IPv4 address they carry. ``CONNECTFLOW_NETWORK_POLICY=off`` switches the check off for single-user
set-ups (resolution and pinning stay the same).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from connectflow_dagster.errors import NetworkPolicyError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_ENV = "CONNECTFLOW_NETWORK_ALLOW"
POLICY_ENV = "CONNECTFLOW_NETWORK_POLICY"

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = ipaddress.ip_address("169.254.169.254")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Resolver(Protocol):
    """The one-method seam of name resolution: tests pass their own instead of patching ``socket``."""

    def resolve(self, host: str, port: int) -> Sequence[str]:
        """Every address ``host`` resolves to (IPv4/IPv6 text), in the order to try them."""
        ...


class SystemResolver:
    """``getaddrinfo``: the same resolution (inet_aton spellings included) the OS would do."""

    def resolve(self, host: str, port: int) -> Sequence[str]:
        """Resolve ``host`` with the system resolver; an unknown name raises ``OSError``."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        seen: dict[str, None] = {}
        for info in infos:
            seen.setdefault(str(info[4][0]).split("%", 1)[0], None)
        return list(seen)


class StaticResolver:
    """Names from a table (tests); anything else goes to the system resolver."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self.table = {name.lower(): list(addresses) for name, addresses in table.items()}

    def resolve(self, host: str, port: int) -> Sequence[str]:
        """The table's addresses for ``host``, else the system's answer."""
        return self.table.get(host.lower().rstrip(".")) or SystemResolver().resolve(host, port)


def address_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination ("loopback", "private" …), or None when it is."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        kind = address_kind(embedded)
        return f"{kind} (IPv4 {embedded} written as IPv6)" if kind else None
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address == _METADATA:
        return "link-local (cloud metadata)"
    if address.is_link_local:
        return "link-local"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "shared address space (CGNAT)"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if address.is_reserved:  # before is_private, which also covers 240.0.0.0/4
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "not publicly routable"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = int(address)
    if address in _NAT64:
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    if packed >> 32 == 0 and packed > 1:  # deprecated IPv4-compatible ::a.b.c.d (not :: or ::1)
        return ipaddress.IPv4Address(packed)
    return None


def _parse_allow(entries: Iterable[str]) -> tuple[tuple[IPNetwork, ...], frozenset[str]]:
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(entry.rstrip("."))
    return tuple(networks), frozenset(hosts)


@dataclass(frozen=True)
class NetworkPolicy:
    """What may be dialled: public addresses, plus the operator's allowlist; or everything when off."""

    enabled: bool = True
    allow_networks: tuple[IPNetwork, ...] = ()
    allow_hosts: frozenset[str] = frozenset()

    @classmethod
    def build(cls, mode: str = "on", allow: str | Iterable[str] = "") -> NetworkPolicy:
        """From the settings' text: ``mode`` on/off, ``allow`` comma-separated hosts and CIDRs."""
        if mode.strip().lower() not in ("on", "off", "true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{POLICY_ENV} must be 'on' or 'off' (got {mode!r})")
        enabled = mode.strip().lower() in ("on", "true", "1", "yes")
        entries = allow.split(",") if isinstance(allow, str) else list(allow)
        networks, hosts = _parse_allow(entries)
        return cls(enabled=enabled, allow_networks=networks, allow_hosts=hosts)

    def host_allowed(self, host: str) -> bool:
        """True when the operator listed ``host`` by name."""
        return host.lower().rstrip(".") in self.allow_hosts

    def refusal(self, address: IPAddress) -> str | None:
        """Why connecting to ``address`` is refused, or None."""
        if not self.enabled:
            return None
        if any(address in net for net in self.allow_networks if net.version == address.version):
            return None
        embedded = _embedded_ipv4(address)
        if embedded is not None and any(embedded in net for net in self.allow_networks if net.version == 4):
            return None
        return address_kind(address)


@functools.lru_cache(maxsize=8)
def _policy_for(mode: str, allow: str) -> NetworkPolicy:
    return NetworkPolicy.build(mode, allow)


def current_policy() -> NetworkPolicy:
    """The policy from the settings (``CONNECTFLOW_NETWORK_POLICY`` / ``CONNECTFLOW_NETWORK_ALLOW``),
    parsed once per distinct value."""
    from connectflow_dagster.config import get_settings

    settings = get_settings()
    return _policy_for(settings.network_policy, settings.network_allow)


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").split("%", 1)[0]


def pinned_addresses(
    host: str, port: int, *, policy: NetworkPolicy | None = None, resolver: Resolver | None = None
) -> list[IPAddress]:
    """Resolve ``host`` once and return the addresses to connect to, every one of them allowed.

    Raises ``NetworkPolicyError`` when any resolved address is refused (a name that resolves to a
    public and an internal address is refused as a whole), ``OSError`` when the name does not resolve.
    """
    policy = policy if policy is not None else current_policy()
    resolver = resolver if resolver is not None else SystemResolver()
    name = _normalise_host(host)
    if not name:
        raise NetworkPolicyError("blocked by the network policy: the URL has no host")
    try:
        literal: IPAddress | None = ipaddress.ip_address(name)
    except ValueError:
        literal = None
    texts = [str(literal)] if literal is not None else list(resolver.resolve(name, port))
    if not texts:
        raise OSError(f"{name} does not resolve")
    addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in texts]
    if literal is None and policy.host_allowed(name):
        return addresses
    for address in addresses:
        kind = policy.refusal(address)
        if kind is not None:
            shown = str(address) if literal is not None or name == str(address) else f"{name} ({address})"
            raise NetworkPolicyError(
                f"blocked by the network policy: {shown} is {kind}; allow it with {ALLOW_ENV}"
            )
    return addresses


def connect_pinned(
    host: str,
    port: int,
    timeout: float | None,
    *,
    policy: NetworkPolicy | None = None,
    resolver: Resolver | None = None,
) -> socket.socket:
    """A TCP socket connected to a checked address of ``host`` (for clients that accept a socket)."""
    last: OSError | None = None
    for address in pinned_addresses(host, port, policy=policy, resolver=resolver):
        try:
            return socket.create_connection((str(address), port), timeout=timeout)
        except OSError as exc:
            last = exc
    assert last is not None
    raise last
