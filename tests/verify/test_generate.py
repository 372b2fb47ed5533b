"""The random ruleset generator and the packet sampler, without the kernel
(test_differential loads their output into the kernel)."""

from __future__ import annotations

import ipaddress
import re

from iptparse.extensions.base import find_match
from iptparse.ipset import parse_ipset
from iptparse.nodes import Family
from iptparse.parser import parse_iptables
from iptparse.verify.generate import HOOKS, MATCHES, generate_ruleset, unmodelled_rules
from iptparse.verify.samples import sample_packets


def test_same_seed_same_ruleset() -> None:
    assert generate_ruleset(5) == generate_ruleset(5)
    assert generate_ruleset(5).rules != generate_ruleset(6).rules
    assert generate_ruleset(5, Family.INET6).rules != generate_ruleset(5).rules


def test_rulesets_parse_and_cover_the_registered_modules() -> None:
    seen: set[str] = set()
    targets: set[str] = set()
    output_chains = 0
    for seed in range(30):
        for family in (Family.INET, Family.INET6):
            # the out path's rulesets: user chains under OUTPUT, OUT_MATCHES
            generated = generate_ruleset(seed, family, output_chains=seed % 3 == 0)
            dump = parse_iptables(generated.rules, family=family)
            output_chains += sum(1 for table in dump.tables for chain in table.chains
                                 if not chain.name.isupper() and "out-" in chain.name)
            for table in dump.tables:
                for chain in table.chains:
                    for rule in chain.rules:
                        seen.update(m.module for m in rule.matches)
                        if rule.target is not None and rule.target.options is not None:
                            targets.add(rule.target.name)
    wanted = {name for name in MATCHES if find_match(name) is not None}
    assert wanted <= seen, wanted - seen
    assert output_chains > 0
    assert {"MARK", "CONNMARK", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "REJECT"} <= targets


def test_chains_jump_forward_only_and_targets_sit_where_the_kernel_allows() -> None:
    for seed in range(30):
        text = generate_ruleset(seed).rules
        for block in text.split("COMMIT\n")[:-1]:
            table = block.split("\n", 1)[0][1:]
            order = re.findall(r"^:(\S+)", block, re.M)
            for chain, callee in re.findall(r"^-A (\S+) .*-[jg] (\S+)", block, re.M):
                if callee in order and callee not in HOOKS[table]:
                    assert order.index(callee) > order.index(chain), (seed, chain, callee)
            for chain, name in re.findall(r"^-A (\S+) .*-j (DNAT|REDIRECT|SNAT|MASQUERADE)",
                                          block, re.M):
                assert table == "nat"
                hook = chain if chain in HOOKS["nat"] else _HOOK_OF[chain.split("-")[0]]
                assert hook in _NAT_HOOKS[name], (seed, chain, name)


_HOOK_OF = {"napre": "PREROUTING", "nainp": "INPUT", "naout": "OUTPUT", "napos": "POSTROUTING"}
_NAT_HOOKS = {"DNAT": ("PREROUTING", "OUTPUT"), "REDIRECT": ("PREROUTING", "OUTPUT"),
              "SNAT": ("POSTROUTING", "INPUT"), "MASQUERADE": ("POSTROUTING",)}


def test_modelled_only_rulesets_have_semantics_everywhere() -> None:
    for seed in range(10):
        generated = generate_ruleset(seed, modelled_only=True, stateless=True)
        assert unmodelled_rules(generated.rules, Family.INET) == set()
        assert "-m limit" not in generated.rules and "-m statistic" not in generated.rules


def test_sets_are_generated_with_the_rules() -> None:
    generated = generate_ruleset(3)
    sets = {s.name: s for s in parse_ipset(generated.ipsets)}
    used = set(re.findall(r"--match-set (\S+)", generated.rules))
    assert used and used <= set(sets)
    assert {s.type for s in sets.values()} >= {"hash:ip", "hash:net", "hash:ip,port"}


def test_samples_are_deterministic_and_sendable() -> None:
    generated = generate_ruleset(4)
    dump = parse_iptables(generated.rules)
    sets = {s.name: s for s in parse_ipset(generated.ipsets)}
    first = sample_packets(dump, sets, "forward", 40, seed=9)
    assert first == sample_packets(dump, sets, "forward", 40, seed=9)
    assert len(first.packets) == 40
    for packet in first.packets:
        assert packet.oif and packet.oif != packet.iif and packet.ttl >= 2
        src = ipaddress.ip_address(packet.src)
        assert not (src.is_loopback or src.is_multicast or src.is_link_local)
        assert all(src not in ipaddress.ip_network(prefix) for prefix, _ in packet.routes)
    inbound = sample_packets(dump, sets, "in", 40, seed=9)
    assert all(p.oif is None and p.protocol in (6, 17, 1) for p in inbound.packets)


def test_samples_follow_the_rules() -> None:
    text = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":deep - [0:0]\n"
            "-A FORWARD -s 192.0.2.0/28 -i cali+ -p udp -j deep\n"
            "-A deep -p udp -m udp --dport 5353 -j ACCEPT\nCOMMIT\n")
    sample = sample_packets(parse_iptables(text), {}, "forward", 60, seed=1)
    reaching = [p for p in sample.packets if p.iif.startswith("cali") and p.protocol == 17
                and ipaddress.ip_address(p.src) in ipaddress.ip_network("192.0.2.0/28")]
    assert len(reaching) >= 20
    assert any(p.dport == 5353 for p in reaching)
    assert all(len(p.iif) <= 15 for p in sample.packets)
