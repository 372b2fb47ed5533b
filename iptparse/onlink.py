"""What the IPv6 stack does not forward: addresses that must stay on their link.

Between PREROUTING and FORWARD two checks keep link-scoped IPv6 addresses on their link. A
packet they refuse never reaches FORWARD, and no rule or policy decides it:

- routing: the route of a link-local destination (fe80::/10) is looked up on the interface
  the packet came in on only (rt6_need_strict() in net/ipv6/route.c), so it can leave by that
  interface alone;
- ip6_forward() (net/ipv6/ip6_output.c), after the hop limit: a packet whose source is the
  unspecified address, loopback, multicast or link-local is dropped, unless it leaves by the
  interface it came in on (the router then sends a redirect and forwards it).

Both come to "such a packet leaves only by its input interface": a relation between iif and
oif. Where a path knows one of the two exactly it is a test on the other; where it knows
neither, the walk forks on it as on an assumption (`--assume same-interface=…` pins it). The
kernel lab confirms each case (`tests/core/test_onlink.py`): a link-local or unspecified source
or a link-local destination reaches FORWARD only when sent back out its input interface; a
site-local, v4-mapped or global source is forwarded either way. IPv4 has neither check.
"""

from __future__ import annotations

from dataclasses import dataclass

from .domain import IntSet, NameSet, ValueSet
from .logic import And, Custom, Not, Pred, Test
from .nodes import Family
from .special import LINK_LOCAL6, LOOPBACK6, MULTICAST6, UNSPECIFIED6

__all__ = ["LINK_LOCAL_ROUTE", "SAME_INTERFACE", "SOURCE_NOT_FORWARDED", "OnLink", "on_link",
           "same_interface"]

#: Why such a packet has no rule to its verdict (`PathState.stopped`, read after "by").
LINK_LOCAL_ROUTE = "routing (a link-local destination leaves only by the interface it came in on)"
SOURCE_NOT_FORWARDED = ("forwarding (an unspecified, loopback, multicast or link-local IPv6 "
                        "source leaves only by the interface it came in on)")



def _same(values: tuple[int | str, ...]) -> bool:
    return values[0] == values[1]


#: "oif = iif" where neither is known exactly: decided by the values when they are, else an
#: assumption the walk forks on
SAME_INTERFACE = Custom(("iif", "oif"), _same, "same-interface", "same-interface",
                        "oif = iif (sent back out the input interface)",
                        "oif ≠ iif (sent out another interface)")


def same_interface(iif: ValueSet, oif: ValueSet) -> Pred:
    """"oif = iif" on a path with these interface sets: a test on one side where the other is
    a single name (exact, no fork on an assumption), else `SAME_INTERFACE`."""
    assert isinstance(iif, NameSet) and isinstance(oif, NameSet)
    known = iif.single_value()
    if known is not None:
        return Test("oif", NameSet.single(known), f"oif = iif ({known})", f"oif ≠ iif ({known})")
    known = oif.single_value()
    if known is not None:
        return Test("iif", NameSet.single(known), f"iif = oif ({known})", f"iif ≠ oif ({known})")
    return SAME_INTERFACE


@dataclass(frozen=True, slots=True)
class OnLink:
    """A family's addresses that leave only by the input interface: destinations (routing)
    and sources (the forwarding code)."""

    dst: IntSet
    src: IntSet

    def destination(self) -> Test:
        return Test("dst", self.dst, "dst is link-local", "dst is not link-local")

    def source(self) -> Test:
        return Test("src", self.src, "src must stay on its link (unspecified, loopback, "
                    "multicast or link-local)", "src may leave its link")

    def destination_drop(self) -> Pred:
        """The routing drop on exact values, addresses asked first (the concrete walk)."""
        return And((self.destination(), Not(SAME_INTERFACE)))

    def source_drop(self) -> Pred:
        """The forwarding drop on exact values, addresses asked first (the concrete walk)."""
        return And((self.source(), Not(SAME_INTERFACE)))


_V6 = OnLink(dst=LINK_LOCAL6, src=UNSPECIFIED6 | LOOPBACK6 | LINK_LOCAL6 | MULTICAST6)


def on_link(family: Family) -> OnLink | None:
    """What `family`'s stack forwards only back out the input interface; None: nothing."""
    return _V6 if family is Family.INET6 else None
