"""Random IPv6 routing rules and tables against `ip -6 route get`, as
test_policy_routing_fuzz.py does for IPv4: multipath routes are IPv6's siblings, and its
reject routes fail the lookup each with an error of its own."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iptparse.host import Host
from iptparse.sandbox.netns import Netns

from ..conftest import require_kernel
from .test_policy_routing_fuzz import (
    LINKS,
    Setup,
    Space,
    add_links,
    install,
    kernel_answer,
    model_answers,
    setups,
)

pytestmark = pytest.mark.kernel

GW = "fe80::1"
PREFIXES = ("2001:db8::/32", "2001:db8:1::/48", "2001:db8:2::/48", "2001:db8:1:1::/64",
            "2001:db8:1:2::/64", "2001:db8:2:1::/64", "::/0", "2001:db8:1:1:8000::/65")
DESTINATIONS = ("2001:db8:1:1::5", "2001:db8:1:1:8000::5", "2001:db8:1:2::5", "2001:db8:2:1::5",
                "2001:db8:2:9::9", "2001:db8:9::9", "2001:db9::7")
SOURCES = ("2001:db8:7::5", "2001:db8:8::9", "2001:db8:1:1::77")


V6 = Space(PREFIXES, f"route replace 2001:db8::/32 via {GW} dev eth0", f"via {GW}", "",
           (0, 32, 48, 64))


@pytest.fixture(autouse=True)
def _kernel() -> None:
    require_kernel()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups(V6), st.lists(st.tuples(st.sampled_from(DESTINATIONS),
                                      st.sampled_from(SOURCES), st.sampled_from(LINKS),
                                      st.integers(0, 3)), min_size=6, max_size=6))
def test_ipv6_rules_route_as_the_kernel_does(setup: Setup,
                                             packets: list[tuple[str, str, str, int]]) -> None:
    with Netns("iptp-rt6") as ns:
        add_links(ns, lo=True)
        ns.run(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
        captured = install(ns, (*setup.routes, *setup.rules), ("ip", "-6"))
        host = Host.from_text(None, captured)
        for dst, src, iif, mark in packets:
            kernel = kernel_answer(ns, dst, src, iif, mark)
            model = model_answers(host, dst, src, iif, mark)
            assert kernel in model and (len(model) == 1 or "nexthop" in captured), (
                dst, src, iif, mark, captured)
