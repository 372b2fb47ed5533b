"""A local packet's route against the kernel's output lookup (`ip route get DST from SRC mark
M`, no input interface): random rules and tables as in test_policy_routing_fuzz.py, with the
router's own addresses as sources, 127.0.0.1 among them, and random route_localnet. The
lookup is `iif lo`; a route to the host's own address leaves by lo; a loopback source may leave
by another interface only with route_localnet; a multipath route's nexthop is the hash's."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iptparse.host import Host
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.sandbox.netns import Netns
from iptparse.trace import trace

from ..conftest import require_kernel
from .test_policy_routing_fuzz import (
    DESTINATIONS,
    FILTER,
    LINKS,
    Setup,
    add_links,
    install,
    route_get,
    setups,
)

pytestmark = pytest.mark.kernel

ADDRESSES = ("address add 10.1.1.1/24 dev eth1", "address add 192.0.2.1/24 dev eth2")
SOURCES = ("10.1.1.1", "192.0.2.1", "127.0.0.1")


def model_answers(host: Host, dst: str, src: str, mark: int) -> set[str]:
    result = trace(Ruleset([parse_iptables(FILTER)], host=host), parse_packet(
        f"udp {src}:5000 -> {dst}:53 mark={mark:#x} ctstate=NEW ttl=64"), "out", steps=False)
    answers = set()
    for path in result.paths:
        for alternative in path.alternatives:
            state = alternative.state
            answers.add("dropped" if path.verdict != "ACCEPT" else "local" if state.looped
                        else f"out {state.current('oif').single_value()}")
    return answers


@pytest.fixture(autouse=True)
def _kernel() -> None:
    require_kernel()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups(), st.lists(st.sampled_from(("all", *LINKS)), max_size=2),
       st.lists(st.tuples(st.sampled_from((*DESTINATIONS, "10.1.1.1", "127.0.0.9")),
                          st.sampled_from(SOURCES), st.integers(0, 3)),
                min_size=6, max_size=6))
def test_local_packets_route_as_the_kernel_does(setup: Setup, localnet: list[str],
                                                packets: list[tuple[str, str, int]]) -> None:
    with Netns("iptp-out") as ns:
        add_links(ns, lo=True, more=ADDRESSES)
        ns.run(["sysctl", "-qw", "net.ipv4.ip_forward=1",
                *(f"net.ipv4.conf.{scope}.route_localnet=1" for scope in localnet)])
        captured = install(ns, (*setup.routes, *setup.rules))
        host = Host.from_text(ns.run(["ip", "addr", "show"]).stdout, captured,
                              ns.run(["sysctl", "net.ipv4"]).stdout)
        for dst, src, mark in packets:
            kernel = route_get(ns, [dst, "from", src, "mark", str(mark)])
            model = model_answers(host, dst, src, mark)
            assert kernel in model and (len(model) == 1 or "nexthop" in captured), (
                dst, src, mark, localnet, captured)
