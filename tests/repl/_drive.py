"""Driving the REPL headlessly: a prompt_toolkit session on a pipe, output captured."""

from __future__ import annotations

import io
from dataclasses import dataclass

from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from iptparse.load import load_ruleset
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.repl import start
from iptparse.repl.output import Output
from iptparse.repl.shell import Shell
from iptparse.ruleset import Ruleset

# A Calico-shaped dispatch written with matches iptparse models without extensions: -j keeps a
# return point, -g does not, RETURN and falling off resume after the last -j.
RULES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:to-dispatch - [0:0]
:to-dispatch-d - [0:0]
:tw-pod - [0:0]
:pi-policy - [0:0]
-A FORWARD -i eth9 -j DROP
-A FORWARD -o pod+ -j to-dispatch
-A FORWARD -p udp -j ACCEPT
-A to-dispatch -o podd+ -g to-dispatch-d
-A to-dispatch -j DROP
-A to-dispatch-d -o podd1 -g tw-pod
-A to-dispatch-d -j DROP
-A tw-pod -p tcp -m tcp --dport 22 -j DROP
-A tw-pod -j pi-policy
-A tw-pod -s 10.0.0.0/8 -j RETURN
-A tw-pod -j DROP
-A pi-policy -s 192.168.0.0/16 -p tcp -m tcp --dport 8080 -j ACCEPT
-A pi-policy -s 10.1.0.0/16 -j RETURN
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -m conntrack --ctstate NEW
COMMIT
"""
# (the mangle rule only needs conntrack, as real rulesets do: without a rule that does, the
# kernel tracks nothing and the walk would have no conntrack fork to step through)

#: returns from pi-policy and tw-pod, falls to FORWARD's policy DROP
RETURNED = "tcp 10.1.2.3:4000 -> 10.9.9.9:8080 iif=eth0 oif=podd1 ctstate=NEW"
#: accepted by pi-policy #1
ACCEPTED = "tcp 192.168.7.7:4000 -> 10.9.9.9:8080 iif=eth0 oif=podd1 ctstate=NEW"


def ruleset(text: str = RULES) -> Ruleset:
    return Ruleset([parse_iptables(text)])


@dataclass
class Session:
    out: str
    err: str
    status: int


def drive(commands: list[str], packet: str | None = RETURNED, *, rules: Ruleset | None = None,
          path: str = "forward") -> Session:
    """Type `commands` at the prompt (then Ctrl-D) and capture what the REPL says."""
    out, err = io.StringIO(), io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text("".join(c + "\n" for c in commands) + "\x04")
        status = start(rules or ruleset(), out, err,
                       packet=parse_packet(packet) if packet else None, path=path,
                       input=pipe, output=DummyOutput(), history=InMemoryHistory())
    return Session(out.getvalue(), err.getvalue(), status)


def shell(packet: str | None = RETURNED, rules: Ruleset | None = None
          ) -> tuple[Shell, io.StringIO]:
    """A shell without a prompt, for commands run one by one."""
    out = io.StringIO()
    return Shell(rules or ruleset(), Output(out), packet=parse_packet(packet) if packet
                 else None), out


def load(*paths: str) -> Ruleset:
    return load_ruleset(list(paths))
