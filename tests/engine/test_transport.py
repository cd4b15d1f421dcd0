"""The transport package's public surface and the policy's address rules (no network needed)."""

from __future__ import annotations

import ipaddress

import pytest

from connectflow_dagster import transport
from connectflow_dagster.transport import NetworkPolicy, NetworkPolicyError, StaticResolver, pinned_addresses


def test_the_public_names_are_sorted_and_importable():
    # isort order, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    def order(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert transport.__all__ == sorted(transport.__all__, key=order)
    assert all(hasattr(transport, name) for name in transport.__all__)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("100.100.100.200", "shared address space (CGNAT)"),
        ("172.16.0.1", "private"),
        ("fc00::1", "private"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "reserved"),
        ("::ffff:10.0.0.1", "private (IPv4 10.0.0.1 written as IPv6)"),
        ("64:ff9b::a9fe:a9fe", "link-local (cloud metadata) (IPv4 169.254.169.254 written as IPv6)"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_kinds(address, kind):
    assert transport.address_kind(ipaddress.ip_address(address)) == kind


def test_the_allowlist_matches_resolved_addresses_and_names():
    policy = NetworkPolicy.build("on", " 10.0.0.0/8 , smtp.internal., [::1] ")
    assert pinned_addresses("10.1.2.3", 25, policy=policy) == [ipaddress.ip_address("10.1.2.3")]
    assert pinned_addresses("::ffff:10.1.2.3", 25, policy=policy)  # the mapped form of an allowed address
    assert pinned_addresses("::1", 25, policy=policy)
    named = StaticResolver({"smtp.internal": ["192.168.0.5"], "db.internal": ["192.168.0.6"]})
    assert pinned_addresses("SMTP.internal", 25, policy=policy, resolver=named) == [
        ipaddress.ip_address("192.168.0.5")
    ]
    with pytest.raises(NetworkPolicyError, match=r"db.internal \(192.168.0.6\) is private"):
        pinned_addresses("db.internal", 5432, policy=policy, resolver=named)


def test_the_off_switch_and_a_bad_setting():
    assert pinned_addresses("127.0.0.1", 80, policy=NetworkPolicy.build("off"))
    with pytest.raises(ValueError, match="CONNECTFLOW_NETWORK_POLICY must be 'on' or 'off'"):
        NetworkPolicy.build("maybe")
