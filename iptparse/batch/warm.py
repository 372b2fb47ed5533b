"""Imported once by the fork server that starts `--jobs` workers (never by anything else).

Parsing and tracing a tiny ruleset here builds the grammar and loads the extension modules in
the server, so every worker forked from it starts warm instead of paying about a second each.
"""

from __future__ import annotations

from ..packet import parse_packet
from .captures import Payload
from .worker import LoadedCapture, Task, evaluate_packet, load_payload

_RULES = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"


def warm() -> None:
    loaded = load_payload(Payload("warm-up", (("v4", _RULES),)))
    assert isinstance(loaded, LoadedCapture)
    packet = parse_packet("tcp 10.0.0.2:40000 -> 10.0.0.1:22 ctstate=NEW")
    evaluate_packet(loaded, packet, Task("warm-up", 0, (packet,), "in"))


warm()
