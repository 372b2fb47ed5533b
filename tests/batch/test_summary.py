"""Divergence reasons on small hand-made fleets: each node differs from the majority in one way."""

from __future__ import annotations

from pathlib import Path

from iptparse.batch import Summary, discover, evaluate, summarise

HEAD = "*filter\n:INPUT {policy} [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"


def _dump(rules: list[str], policy: str = "DROP") -> str:
    return HEAD.format(policy=policy) + "".join(r + "\n" for r in rules) + "COMMIT\n"


def _fleet(root: Path, nodes: dict[str, dict[str, str]]) -> Path:
    for name, files in nodes.items():
        folder = root / name
        folder.mkdir(parents=True)
        for file, text in files.items():
            (folder / file).write_text(text)
    return root


def _summary(root: Path, packets: list[str], path: str = "in") -> Summary:
    captures = discover([root])
    return summarise(evaluate(captures, packets, path), captures)


def _only(summary: Summary, node: str) -> tuple[str, str]:
    [packet] = summary.packets
    [d] = [d for d in packet.differs if d.node == node]
    assert [x.node for x in packet.differs] == [node]
    return d.difference.kind, d.difference.text


def test_host_addresses_differ(tmp_path: Path) -> None:
    rules = _dump(["-A INPUT -m addrtype --dst-type LOCAL -j ACCEPT"])
    root = _fleet(tmp_path, {
        "a1": {"iptables-save.txt": rules, "addrs.txt": "eth0 10.0.0.1/24\n"},
        "a2": {"iptables-save.txt": rules, "addrs.txt": "eth0 10.0.0.1/24\n"},
        "b": {"iptables-save.txt": rules, "addrs.txt": "eth0 10.0.0.2/24\n"},
    })
    summary = _summary(root, ["tcp 10.0.0.9:4000 -> 10.0.0.1:80 iif=eth0 ctstate=NEW"])
    kind, text = _only(summary, "b")
    assert kind == "host"
    assert "--dst-type LOCAL" in text and "on the majority but not here" in text
    assert summary.packets[0].majority == "ACCEPT" and summary.packets[0].majority_nodes == 2


def test_rules_in_another_order(tmp_path: Path) -> None:
    ours = ["-A INPUT -s 10.0.0.0/8 -j ACCEPT", "-A INPUT -p tcp -j DROP"]
    root = _fleet(tmp_path, {
        "a1": {"iptables-save.txt": _dump(ours)},
        "a2": {"iptables-save.txt": _dump(ours)},
        "b": {"iptables-save.txt": _dump(ours[::-1])},
    })
    kind, text = _only(_summary(root, ["tcp 10.1.1.1:4000 -> 10.2.2.2:80"]), "b")
    assert kind == "order"
    assert text.startswith("filter:INPUT #1 `-A INPUT -p tcp -j DROP` comes before")


def test_changed_rule_on_one_path(tmp_path: Path) -> None:
    root = _fleet(tmp_path, {
        "a1": {"iptables-save.txt": _dump(["-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"])},
        "a2": {"iptables-save.txt": _dump(["-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"])},
        "b": {"iptables-save.txt": _dump(["-A INPUT -p tcp -m tcp --dport 22 -j DROP"])},
    })
    kind, text = _only(_summary(root, ["tcp 10.1.1.1:4000 -> 10.2.2.2:22"]), "b")
    assert kind == "changed"
    assert text == ("filter:INPUT #1 reads `-A INPUT -p tcp -m tcp --dport 22 -j DROP` here, "
                    "`-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT` on the majority")


def test_extra_rule_and_policy(tmp_path: Path) -> None:
    base = ["-A INPUT -p udp -j ACCEPT"]
    root = _fleet(tmp_path, {
        "a1": {"iptables-save.txt": _dump(base)},
        "a2": {"iptables-save.txt": _dump(base)},
        "a3": {"iptables-save.txt": _dump(base)},
        "b": {"iptables-save.txt": _dump([*base, "-A INPUT -p tcp --dport 80 -j ACCEPT"])},
        "c": {"iptables-save.txt": _dump(base, policy="ACCEPT")},
    })
    summary = _summary(root, ["tcp 10.1.1.1:4000 -> 10.2.2.2:80"])
    [packet] = summary.packets
    reasons = {d.node: (d.difference.kind, d.difference.text) for d in packet.differs}
    assert reasons["b"] == ("extra", "only here: filter:INPUT #2: "
                                     "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT")
    assert reasons["c"] == ("policy", "filter:INPUT policy: `-P INPUT ACCEPT` here, "
                                      "`-P INPUT DROP` on the majority")
    assert packet.counts == (("DROP", 3), ("ACCEPT", 2))


def test_a_node_that_cannot_trace_the_packet(tmp_path: Path) -> None:
    v6 = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
    rules = _dump([], policy="ACCEPT")
    root = _fleet(tmp_path, {
        "a1": {"iptables-save.txt": rules, "ip6tables-save.txt": v6},
        "a2": {"iptables-save.txt": rules, "ip6tables-save.txt": v6},
        "b": {"iptables-save.txt": rules},
    })
    summary = _summary(root, ["tcp [2001:db8::1]:4000 -> [2001:db8::2]:80"])
    kind, text = _only(summary, "b")
    assert kind == "error" and "the rules given are ipv4 only" in text
    assert summary.errors == 1 and not summary.ok and not summary.failed


def test_every_node_agrees(tmp_path: Path) -> None:
    rules = _dump(["-A INPUT -p tcp -j ACCEPT"])
    root = _fleet(tmp_path, {f"n{i}": {"iptables-save.txt": rules} for i in range(3)})
    summary = _summary(root, ["tcp 10.1.1.1:4000 -> 10.2.2.2:80"])
    [packet] = summary.packets
    assert packet.differs == () and packet.counts == (("ACCEPT", 3),) and summary.ok
    assert packet.decided_by[0] is not None
    assert packet.decided_by[0].text == "-A INPUT -p tcp -j ACCEPT"
