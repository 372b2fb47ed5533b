"""What the IP stack drops on receipt, before the first netfilter hook sees the packet.

ip6_rcv_core() (net/ipv6/ip6_input.c) checks the addresses of every received IPv6 packet before
it calls the PREROUTING hook, and drops (RFC 4291) a packet

- with a multicast source address (ff00::/8);
- with a multicast destination of reserved scope 0 (ffx0::/16);
- on an interface other than loopback: with the loopback address ::1 as source or destination,
  or a multicast destination of interface-local scope (ffx1::/16).

No rule counts such a packet and no policy applies: asked about one, a user must hear that the
stack dropped it, not which rule would have matched. The kernel lab confirms each case on a
veth interface (`tests/core/test_receive.py`). IPv4 has no such check in ip_rcv_core(); its
martian addresses are refused by routing, after PREROUTING (`host.Host.route`).

The checks are kept as sets of source and destination addresses, so that the interpreter can
split a path on them in the order the concrete evaluator decides them (`Receipt.pred`): the
addresses dropped anywhere, then those dropped off loopback, and only then the interface.
"""

from __future__ import annotations

from dataclasses import dataclass

from .domain import IntSet, NameSet, ValueSet
from .logic import And, Not, Or, Pred, Test
from .nodes import Family
from .special import LOOPBACK6, MULTICAST6

__all__ = ["LOOPBACK_IFACE", "RECEIPT_DROP", "Receipt", "receipt"]

#: Why such a packet has no rule to its verdict (`PathState.stopped`, read after "by").
RECEIPT_DROP = "the IPv6 stack on receipt, before PREROUTING (RFC 4291 addresses)"

LOOPBACK_IFACE = Test("iif", NameSet.single("lo"))

_BITS = 128


def _multicast_scope(scope: int) -> IntSet:
    """ffXS::/16 with scope S, whatever the flags X."""
    return IntSet.masked((0xFF00 | scope) << 112, 0xFF0F << 112, _BITS)


@dataclass(frozen=True, slots=True)
class Receipt:
    """The addresses a family's stack drops on receipt: anywhere, and off loopback too."""

    src: IntSet
    dst: IntSet
    src_off_loopback: IntSet
    dst_off_loopback: IntSet

    def depends_on_interface(self, src: ValueSet, dst: ValueSet) -> bool:
        """Whether packets with these addresses may be dropped or not by where they came
        from: some may carry an address dropped off loopback only."""
        assert isinstance(src, IntSet) and isinstance(dst, IntSet)
        return not (src.isdisjoint(self.src_off_loopback)
                    and dst.isdisjoint(self.dst_off_loopback))

    def anywhere(self) -> Pred:
        """The drop wherever the packet came from: one test per address, so the packets
        that pass are one piece (src ∉ S and dst ∉ D)."""
        return Or((Test("src", self.src), Test("dst", self.dst)))

    def off_loopback(self) -> Pred:
        """What is dropped besides when the packet did not come in on loopback."""
        return Or((Test("src", self.src_off_loopback), Test("dst", self.dst_off_loopback)))

    def pred(self) -> Pred:
        """The whole drop, addresses asked first: a packet that does not say where it came
        from is decided by its addresses alone, as nearly every packet is."""
        return Or((self.anywhere(), And((self.off_loopback(), Not(LOOPBACK_IFACE)))))


_V6 = Receipt(
    src=MULTICAST6,
    dst=_multicast_scope(0),
    src_off_loopback=LOOPBACK6,
    dst_off_loopback=LOOPBACK6 | _multicast_scope(1),
)


def receipt(family: Family) -> Receipt | None:
    """What `family`'s stack drops before PREROUTING; None when it drops nothing there."""
    return _V6 if family is Family.INET6 else None
