"""`iptables -S` output (iptparse/listing.py and the parser's listings): which table each
listing is, that it reads as the same tables iptables-save prints, and that it prints back as
the tool printed it; the real tools print the listings of the kernel tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iptparse.errors import ParseError, ParseWarning
from iptparse.listing import listed_tables
from iptparse.nodes import Counters, Family
from iptparse.parser import parse_iptables
from iptparse.render import render
from iptparse.sandbox.netns import Netns
from iptparse.verify.generate import generate_ruleset

from ..conftest import PROJECT_CORPORA, require_kernel

FILTER = "-P INPUT ACCEPT\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n"
NAT = "-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n"
MANGLE = "".join(f"-P {c} ACCEPT\n" for c in ("PREROUTING", "INPUT", "FORWARD", "OUTPUT",
                                               "POSTROUTING"))
RAW = "-P PREROUTING ACCEPT\n-P OUTPUT ACCEPT\n"
SECURITY = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"


def _tables(text: str) -> list[str]:
    return [name for name, _ in (listed_tables(text) or {}).values()]


def test_each_listing_is_told_by_its_policies() -> None:
    text = FILTER + "-N X\n-A X -j DROP\n" + NAT + MANGLE + RAW + SECURITY
    assert _tables(text) == ["filter", "nat", "mangle", "raw", "security"]
    assert list(listed_tables(text) or {}) == [1, 6, 10, 15, 17]
    assert _tables("-P PREROUTING ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n") == ["nat"]
    assert _tables(RAW + FILTER) == ["raw", "filter"]


def test_policies_out_of_hook_order_start_the_next_listing() -> None:
    """Tables without rules are only their policies: raw's PREROUTING, OUTPUT, then
    security's INPUT, which comes before OUTPUT in hook order."""
    assert _tables(RAW + SECURITY + NAT) == ["raw", "filter", "nat"]
    assert _tables(MANGLE + NAT) == ["mangle", "nat"]


def test_secmark_tells_security_from_filter() -> None:
    secmark = "-A INPUT -p tcp -j SECMARK --selctx system_u:object_r:ssh_packet_t:s0\n"
    assert _tables(SECURITY + secmark) == ["security"]
    assert _tables(FILTER + SECURITY + secmark) == ["filter", "security"]
    dump = parse_iptables(SECURITY + secmark)
    assert [t.name for t in dump.tables] == ["security"]


def test_the_command_that_printed_a_listing_names_its_table() -> None:
    """A comment or a pasted prompt before a listing: `iptables -t security -S` is security's
    even without SECMARK, `iptables -S` filter's."""
    assert _tables("# iptables -t security -S\n" + SECURITY) == ["security"]
    assert _tables("$ sudo iptables -t raw -S PREROUTING\n-P PREROUTING ACCEPT\n") == ["raw"]
    pasted = ("root@node:~# iptables -S\n" + FILTER + "root@node:~# iptables --table=nat -S\n"
              + NAT + "-A POSTROUTING -o eth0 -j MASQUERADE\n")
    assert _tables(pasted) == ["filter", "nat"]
    warnings: list[ParseWarning] = []
    dump = parse_iptables(pasted, errors="skip", warnings=warnings)
    assert [t.name for t in dump.tables] == ["filter", "nat"]
    assert [w.line for w in warnings] == [1, 5]  # the prompts, skipped
    with pytest.raises(ParseError) as caught:
        parse_iptables(pasted)
    assert caught.value.line == 1
    assert caught.value.message.startswith("a shell prompt and command pasted with the dump")
    assert "shell prompt" in warnings[1].message  # inside a listing too


def test_part_of_a_table_is_the_first_table_that_has_its_chains() -> None:
    assert _tables("-P FORWARD DROP\n-A FORWARD -j ACCEPT\n") == ["filter"]
    assert _tables("-P PREROUTING ACCEPT\n-A PREROUTING -j ACCEPT\n") == ["nat"]
    assert _tables("-N DOCKER\n-A DOCKER -j RETURN\n") == ["filter"]
    assert _tables("-N X\n-A POSTROUTING -j X\n") == ["nat"]
    assert _tables("# iptables -t mangle -S\n-N X\n-A POSTROUTING -j X\n") == ["mangle"]
    chain_by_chain = ("-P INPUT DROP\n-A INPUT -j ACCEPT\n-P FORWARD DROP\n"
                      "-A FORWARD -j ACCEPT\n-N X\n-A X -j RETURN\n")
    assert _tables(chain_by_chain) == ["filter"]
    table = parse_iptables(chain_by_chain).tables[0]
    assert [(c.name, c.policy, len(c.rules)) for c in table.chains] == [
        ("INPUT", "DROP", 1), ("FORWARD", "DROP", 1), ("X", None, 1)]
    # the tool lists policies or chains before rules: rules alone are a restore file's
    assert listed_tables("-A INPUT -j ACCEPT\n") is None


def test_other_text_is_not_a_listing() -> None:
    save = (PROJECT_CORPORA / "docker" / "iptables-save.txt").read_text()
    assert listed_tables(save) is None
    assert listed_tables("*filter\n-P INPUT DROP\nCOMMIT\n") is None
    assert listed_tables("-A INPUT -j ACCEPT\n*filter\n") is None
    assert listed_tables("Chain INPUT (policy ACCEPT)\ntarget  prot opt source\n") is None
    assert listed_tables("# iptables -S\n-A INPUT -j ACCEPT\n") is None


def test_a_listing_reads_as_iptables_save_reads() -> None:
    listing = parse_iptables(FILTER + "-N X\n-A INPUT -p tcp -m tcp --dport 22 -j X\n"
                             "-A X -j DROP\n" + RAW + "-A PREROUTING -j CT --notrack\n")
    save = parse_iptables("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                          "-A PREROUTING -j CT --notrack\nCOMMIT\n*filter\n"
                          ":INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                          ":X - [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j X\n-A X -j DROP\n"
                          "COMMIT\n")
    assert listing.table("filter") == save.table("filter")
    assert listing.table("raw") == save.table("raw")
    assert [t.form for t in listing.tables] == ["list-rules", "list-rules"]


def test_an_ip6tables_listing_is_told_by_its_name() -> None:
    """`ip6tables -S` has no header and may name no address: the file's name tells."""
    text = FILTER + "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
    assert parse_iptables(text, filename="node-1/ip6tables-S.txt").family is Family.INET6
    assert parse_iptables(text, filename="rules.v6").family is Family.INET6
    assert parse_iptables(text, filename="iptables-S.txt").family is Family.INET
    saved = "# Generated by iptables-save v1.8.9\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"
    assert parse_iptables(saved, filename="ip6tables.txt").family is Family.INET  # the header


def test_counters_of_a_verbose_listing() -> None:
    text = ("-P INPUT ACCEPT -c 3 4\n-P FORWARD DROP -c 0 0\n-P OUTPUT ACCEPT -c 0 0\n-N X\n"
            "-A INPUT -p tcp -m comment --comment \"a b\" -c 7 8\n-A INPUT -c 0 0 -g X\n"
            "-A INPUT -p udp -c 5 6 -j LOG --log-prefix \"x \"\n")
    dump = parse_iptables(text)
    table = dump.tables[0]
    assert table.form == "list-rules-counters"
    chain = table.chain("INPUT")
    assert chain is not None and chain.counters == Counters(3, 4)
    assert [r.counters for r in chain.rules] == [Counters(7, 8), Counters(0, 0), Counters(5, 6)]
    assert render(dump) == text


def test_comments_and_blank_lines_stay_where_they_were() -> None:
    text = ("# iptables -S\n" + FILTER + "-N X\n\n# the nat table\n" + NAT
            + "# masquerade\n-A POSTROUTING -o eth0 -j MASQUERADE\n")
    assert render(parse_iptables(text)) == text


@pytest.mark.parametrize("text, message, line", [
    (FILTER + FILTER.replace("DROP", "ACCEPT") + FILTER,
     "a second listing of table filter", 7),
    ("-P INPUT ACCEPT foo\n", "Bad argument `foo'", 1),
    (FILTER + "-N X Y\n", "Bad argument `Y'", 4),
    (FILTER + '-N "a b"\n', "invalid chain name `a b'", 4),
    (FILTER + '-N ""\n', "invalid chain name `'", 4),  # iptables: "may not clash with target"
    ("Chain INPUT (policy ACCEPT)\ntarget     prot opt source   destination\n",
     "this is `iptables -L' output", 1),
    (FILTER + "-A NOPE -j ACCEPT\n", "chain NOPE does not exist in table filter", 4),
    ("# nft list ruleset\ntable ip kube-proxy { # handle 3\n", "this is `nft list ruleset' "
     "output (nftables rules", 2),
    ("table bridge filter {\n\tchain forward {\n", "this is `nft list ruleset' output", 1),
])
def test_what_is_refused(text: str, message: str, line: int) -> None:
    with pytest.raises(ParseError) as caught:
        parse_iptables(text, filename="rules.txt")
    assert message in caught.value.message and caught.value.line == line


@pytest.mark.kernel
def test_nft_list_ruleset_is_called_that(netns: Netns) -> None:
    """What nft itself prints, for a table of each kind a node may hold, is refused by name
    (it read `not an iptables-save line')."""
    require_kernel("nft")
    netns.run(["nft", "-f", "-"], input=(
        "table inet filter {\n chain input {\n  type filter hook input priority 0;"
        " policy drop;\n  tcp dport 22 accept\n }\n}\n"
        "table ip nat {\n chain post {\n  type nat hook postrouting priority 100;\n"
        "  oifname \"eth0\" masquerade\n }\n}\n"))
    for argv in (["nft", "list", "ruleset"], ["nft", "-a", "list", "ruleset"],
                 ["nft", "list", "table", "ip", "nat"]):
        printed = netns.run(argv).stdout
        with pytest.raises(ParseError) as caught:
            parse_iptables(printed)
        assert caught.value.message.startswith("this is `nft list ruleset' output"), printed


# --- the real tools print the listings ----------------------------------------------------

_TABLE = re.compile(r"^\*(\w+)$", re.M)
_ORDER = ["filter", "nat", "mangle", "raw", "security"]
_CORPORA = sorted(p for name in ("iptables-save.txt", "ip6tables-save.txt")
                  for p in PROJECT_CORPORA.rglob(name))


def _listings(ns: Netns, rules: str, family: Family, sets: str | None
              ) -> list[tuple[str, str]]:
    """(`-S` of every table of the rules, `-save`) and (the same with `-v`, `-save -c`), as
    the tools print them."""
    tool = "ip6tables-legacy" if family is Family.INET6 else "iptables-legacy"
    ns.run(["ipset", "destroy"], check=False)
    if sets:
        ns.run(["ipset", "restore"], input=sets)
    ns.run([f"{tool}-restore"], input=rules)
    tables = _listed(rules)
    try:
        return [("".join(ns.run([tool, "-t", t, "-S", *flag]).stdout for t in tables),
                 ns.run([f"{tool}-save", *counters]).stdout)
                for flag, counters in (([], []), (["-v"], ["-c"]))]
    finally:
        for table in tables:
            ns.run([tool, "-t", table, "-F"])
            ns.run([tool, "-t", table, "-X"])
        ns.run(["ipset", "destroy"], check=False)


def _listed(rules: str) -> list[str]:
    """The tables of the rules in the order people list them (the first listing with
    filter's chains is taken for filter)."""
    return sorted(_TABLE.findall(rules), key=_ORDER.index)


def _check(pairs: list[tuple[str, str]], tables: list[str], family: Family) -> None:
    for listed, saved in pairs:
        listing = parse_iptables(listed, family=family)
        assert [t.name for t in listing.tables] == tables
        assert render(listing) == listed  # byte for byte, as the tool printed it
        save = parse_iptables(saved, family=family)
        for table in listing.tables:  # (save prints every table the namespace has loaded)
            assert table == save.table(table.name), table.name


@pytest.mark.kernel
@pytest.mark.parametrize("dump", _CORPORA, ids=[str(p.relative_to(PROJECT_CORPORA))
                                               for p in _CORPORA])
def test_corpora_listed_by_the_tools(dump: Path, module_netns: Netns) -> None:
    family = Family.INET6 if "ip6tables" in dump.name else Family.INET
    sets = dump.parent / "ipset-save.txt"
    rules = dump.read_text()
    _check(_listings(module_netns, rules, family, sets.read_text() if sets.is_file() else None),
           _listed(rules), family)


CASES = [(family, seed) for family in (Family.INET, Family.INET6) for seed in range(6)]


@pytest.mark.kernel
@pytest.mark.parametrize("family, seed", CASES, ids=[f"{f.value}-{s}" for f, s in CASES])
def test_generated_rulesets_listed_by_the_tools(family: Family, seed: int,
                                                module_netns: Netns) -> None:
    generated = generate_ruleset(seed, family, size=60)
    _check(_listings(module_netns, generated.rules, family, generated.ipsets or None),
           _listed(generated.rules), family)
