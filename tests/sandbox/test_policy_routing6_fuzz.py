"""Random IPv6 routing rules and tables against `ip -6 route get`, as
test_policy_routing_fuzz.py does for IPv4: multipath routes are IPv6's siblings, and its
reject routes fail the lookup each with an error of its own."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iptparse.host import Host
from iptparse.sandbox.netns import Netns

from ..conftest import require_kernel
from .test_policy_routing_fuzz import LINKS, TABLES, kernel_answer, model_answers

pytestmark = pytest.mark.kernel

GW = "fe80::1"
PREFIXES = ("2001:db8::/32", "2001:db8:1::/48", "2001:db8:2::/48", "2001:db8:1:1::/64",
            "2001:db8:1:2::/64", "2001:db8:2:1::/64", "::/0", "2001:db8:1:1:8000::/65")
DESTINATIONS = ("2001:db8:1:1::5", "2001:db8:1:1:8000::5", "2001:db8:1:2::5", "2001:db8:2:1::5",
                "2001:db8:2:9::9", "2001:db8:9::9", "2001:db9::7")
SOURCES = ("2001:db8:7::5", "2001:db8:8::9", "2001:db8:1:1::77")


@dataclass(frozen=True)
class Setup:
    lines: tuple[str, ...]


@st.composite
def setups(draw: st.DrawFn) -> Setup:
    lines = [f"route replace 2001:db8::/32 via {GW} dev eth0"]  # most packets go out
    for _ in range(draw(st.integers(2, 12))):
        table = draw(st.sampled_from((*TABLES, "100", "101")))
        prefix = draw(st.sampled_from(PREFIXES))
        kind = draw(st.sampled_from(("unicast", "unicast", "unicast", "throw", "blackhole",
                                     "unreachable", "prohibit", "local", "multipath")))
        where = f" table {table}"
        if kind == "unicast":
            lines.append(f"route replace {prefix} via {GW} dev {draw(st.sampled_from(LINKS))}"
                         f"{where}")
        elif kind == "multipath":
            links = draw(st.lists(st.sampled_from(LINKS), min_size=2, max_size=3, unique=True))
            lines.append(f"route replace {prefix}{where} " + " ".join(
                f"nexthop via {GW} dev {link} weight {draw(st.integers(1, 3))}"
                for link in links))
        elif kind == "local":
            if table != "main":
                lines.append(f"route replace local {prefix} dev lo{where}")
        else:
            lines.append(f"route replace {kind} {prefix}{where}")
    priorities = sorted(draw(st.sets(st.integers(1, 30), min_size=0, max_size=5)))
    for index, priority in enumerate(priorities):
        words = ["not"] if draw(st.booleans()) and draw(st.booleans()) else []
        if draw(st.booleans()):
            words += ["fwmark", f"{draw(st.integers(0, 3)):#x}/{draw(st.integers(1, 3)):#x}"]
        if draw(st.booleans()):
            words += [draw(st.sampled_from(("from", "to"))), draw(st.sampled_from(PREFIXES[:6]))]
        if draw(st.booleans()):
            words += ["iif", draw(st.sampled_from(LINKS))]
        if draw(st.integers(0, 5)) == 0:
            words += draw(st.sampled_from((["ipproto", "udp"], ["ipproto", "tcp"],
                                           ["dport", "50-60"], ["sport", "4000-6000"])))
        later = priorities[index + 1:]
        action = draw(st.sampled_from(("lookup", "lookup", "lookup", "blackhole",
                                       "unreachable", "prohibit", "nop",
                                       *(["goto"] if later else []))))
        if action == "lookup":
            words += ["lookup", draw(st.sampled_from(TABLES))]
            if draw(st.booleans()):
                words += ["suppress_prefixlength", str(draw(st.sampled_from((0, 32, 48, 64))))]
        elif action == "goto":
            words += ["goto", str(draw(st.sampled_from(later)))]
        else:
            words.append(action)
        lines.append(f"rule add pref {priority} {' '.join(words)}")
    return Setup(tuple(lines))


@pytest.fixture(autouse=True)
def _kernel() -> None:
    require_kernel()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups(), st.lists(st.tuples(st.sampled_from(DESTINATIONS), st.sampled_from(SOURCES),
                                    st.sampled_from(LINKS), st.integers(0, 3)),
                          min_size=6, max_size=6))
def test_ipv6_rules_route_as_the_kernel_does(setup: Setup,
                                             packets: list[tuple[str, str, str, int]]) -> None:
    with Netns("iptp-rt6") as ns:
        lines = [f"link add {name} type veth peer name p{name}" for name in LINKS]
        lines += [f"link set {name} up" for name in ("lo", *LINKS)]
        lines += [f"link set p{name} up" for name in LINKS]
        ns.run(["ip", "-batch", "-"], input="\n".join(lines) + "\n")
        ns.run(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
        ns.run(["ip", "-6", "-force", "-batch", "-"], input="\n".join(setup.lines) + "\n",
               check=False)
        captured = "".join(ns.run(argv).stdout for argv in (
            ["ip", "-6", "rule", "show"], ["ip", "-6", "route", "show", "table", "all"]))
        host = Host.from_text(None, captured)
        for dst, src, iif, mark in packets:
            kernel = kernel_answer(ns, dst, src, iif, mark)
            model = model_answers(host, dst, src, iif, mark)
            assert kernel in model and (len(model) == 1 or "nexthop" in captured), (
                dst, src, iif, mark, captured)
