"""Naming mark bits from how a dump uses them (the `p mark` view)."""

from __future__ import annotations

from iptparse.nodes import Family
from iptparse.repl.index import DumpIndex
from iptparse.repl.markbits import RuleFacts, name_bits
from iptparse.repl.seed import load_seed

from ._drive import ruleset, shell

KUBE = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
-A POSTROUTING -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "requiring SNAT" -j MASQUERADE --random-fully
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-MARK-DROP - [0:0]
-A INPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL -m mark --mark 0x8000/0x8000 -j DROP
-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000
-A FORWARD -m mark --mark 0x100/0x300 -s 10.0.0.0/8 -j ACCEPT
COMMIT
"""


def bits_of(text: str) -> dict[int, str | None]:
    index = DumpIndex(ruleset(text), Family.INET)
    return {b.bit: b.name for b in index.mark_bits("mark")}


def test_kube_proxy_bits() -> None:
    # 0x4000: set in KUBE-MARK-MASQ, guards MASQUERADE; 0x8000: set in KUBE-MARK-DROP and
    # tested before DROP; 0x100 / 0x200: tested together with an address: no name
    assert bits_of(KUBE) == {0x100: None, 0x200: None, 0x4000: "masquerade", 0x8000: "drop"}


def test_calico_accept_bit_in_the_seed() -> None:
    index = DumpIndex(load_seed(), Family.INET)
    named = {b.bit: b.name for b in index.mark_bits("mark")}
    assert named[0x10000] == "accept"
    assert named[0x4000] == "masquerade"
    assert named[0x20000] is None  # only tested clear: the rules never say what it means
    counts = {b.bit: (b.tested, b.changed) for b in index.mark_bits("mark")}
    assert counts[0x4000] == (2, 2)  # set by KUBE-MARK-MASQ, toggled by --set-xmark 0x4000/0x0


def test_comment_words_support_a_candidate() -> None:
    rules = [RuleFacts("filter", "X", tests=((0x1, 0x1, False),), target="ACCEPT"),
             RuleFacts("filter", "X", tests=((0x1, 0x1, False),), target="RETURN",
                       comments=("Return if policy accepted",)),
             RuleFacts("filter", "Y", tests=((0x2, 0x2, False),), target="DROP",
                       other_matches=True)]
    (one, two) = name_bits(rules)
    assert (one.bit, one.name, one.votes) == (1, "accept", {"accept": 2})
    assert (two.bit, two.name) == (2, None)


def test_p_mark_lists_bits_with_their_state() -> None:
    sh, out = shell("tcp 10.1.2.3:1 -> 10.9.9.9:2 mark=0x4100", ruleset(KUBE))
    sh.execute("p mark")
    assert out.getvalue().splitlines() == [
        "mark = 0x4100",
        "  0x00000100  -            set      tested by 1 rule(s), set by 0",
        "  0x00000200  -            clear    tested by 1 rule(s), set by 0",
        "  0x00004000  masquerade   set      tested by 1 rule(s), set by 2",
        "  0x00008000  drop         clear    tested by 1 rule(s), set by 1",
    ]
    sh.execute("set mark 0x4000/0x4000")
    sh.execute("p mark")
    assert out.getvalue().splitlines()[-5:] == [
        "mark & 0x4000 = 0x4000",
        "  0x00000100  -            unknown  tested by 1 rule(s), set by 0",
        "  0x00000200  -            unknown  tested by 1 rule(s), set by 0",
        "  0x00004000  masquerade   set      tested by 1 rule(s), set by 2",
        "  0x00008000  drop         unknown  tested by 1 rule(s), set by 1",
    ]
