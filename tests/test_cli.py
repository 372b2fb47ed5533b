"""`iptparse fmt|check|show|trace` as a user runs them: exit status, stdout, stderr.

The parser, interpreter and report have their own tests; these hold the shell's promises: bad
input is `FILE:LINE:COL: error: …` with the line and a caret and never a traceback, `--lenient`
says what it skipped, `--assume` pins, and `trace` (text and `--json`) answers the seed
scenario's questions the way the README shows.
"""

from __future__ import annotations

import io
import json
import re
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from iptparse.parser import parse_iptables

from ._cli import run_cli
from .conftest import PROJECT_CORPORA

SEED = PROJECT_CORPORA / "seed"
SEED_ARGS = [str(SEED / "iptables-save.txt"), "--ipset", str(SEED / "ipset-list.txt"),
             "--routes", str(SEED / "routes.txt"), "--addrs", str(SEED / "addrs.txt")]
DEFAULT_POD = "tcp 10.13.76.26:40000 -> 10.13.76.19:8080 iif=cali17b90f98476 ctstate=NEW mark=0x0"
KUBE_SYSTEM_POD = (
    "tcp 10.13.76.17:40000 -> 10.13.76.19:8080 iif=calia9c4260d1d8 ctstate=NEW mark=0x0")
RULES = """*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT
-A INPUT -p udp -m limit --limit 5/sec -j ACCEPT
COMMIT
"""


def cli(*argv: str) -> tuple[int, str, str]:
    return run_cli(argv)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.txt"
    path.write_text(RULES)
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.txt"
    path.write_text("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n"
                    "-A INPUT -p tcp --bogus 1 -j DROP\n-A INPUT -j NOPE\nCOMMIT\n")
    return path


@pytest.fixture
def pasted(tmp_path: Path) -> Path:
    """A dump pasted with the shell prompt that printed it: a common sight in issues."""
    path = tmp_path / "pasted.txt"
    path.write_text("root@node:~# iptables-save\n" + RULES)
    return path


def summary(output: str) -> list[str]:
    """The verdict lines between the header and the first path."""
    block = output.split("\n\n")[1]
    return [line for line in block.splitlines() if not line.startswith("  ")]


# --- fmt, check, show ----------------------------------------------------------------------

def test_fmt_gives_back_canonical_dumps_byte_for_byte() -> None:
    for name in ("iptables-save.txt", "ipset-list.txt", "ipset-save.txt"):
        status, out, err = cli("fmt", str(SEED / name))
        assert (status, err) == (0, "")
        assert out == (SEED / name).read_text()


def test_fmt_converts_ipset_list_to_save() -> None:
    status, out, _ = cli("fmt", "--to", "save", str(SEED / "ipset-list.txt"))
    assert status == 0
    assert out == (SEED / "ipset-save.txt").read_text()


def test_fmt_gives_back_a_listing_or_turns_it_into_save_layout() -> None:
    listing = PROJECT_CORPORA / "firewalld" / "iptables-S.txt"
    status, out, err = cli("fmt", str(listing))
    assert (status, out, err) == (0, listing.read_text(), "")
    status, out, _ = cli("fmt", "--to", "save", str(listing))
    assert status == 0 and out.startswith("*filter\n:INPUT ACCEPT [0:0]\n")
    save = parse_iptables((PROJECT_CORPORA / "firewalld" / "iptables-save.txt").read_text())
    for table in parse_iptables(out).tables:
        assert table.form == "save" and table == save.table(table.name)
    status, out, _ = cli("fmt", "--to", "save", str(SEED / "iptables-save.txt"))
    assert (status, out) == (0, (SEED / "iptables-save.txt").read_text())
    status, out, err = cli("fmt", "--to", "list", str(SEED / "iptables-save.txt"))
    assert (status, out) == (2, "")
    assert "--to list applies to ipset files only" in err


def test_show_says_which_listing_is_which_table() -> None:
    status, out, _ = cli("show", str(PROJECT_CORPORA / "firewalld" / "iptables-S.txt"))
    tables = [line for line in out.splitlines() if line.startswith("  *")]
    assert status == 0 and [t.split(":")[0] for t in tables] == [
        "  *filter (the `iptables -S' listing at line 1)",
        "  *nat (the `iptables -S' listing at line 213)",
        "  *mangle (the `iptables -S' listing at line 365)",
        "  *raw (the `iptables -S' listing at line 454)",
        "  *security (the `iptables -S' listing at line 549)"]


def test_a_listing_traces_as_its_save_does() -> None:
    firewalld = PROJECT_CORPORA / "firewalld"
    answers = [cli("trace", str(firewalld / name), "--ipset", str(firewalld / "ipset-save.txt"),
                   "--path", "in", "--color", "never", "-p",
                   "tcp 198.51.100.7:40000 -> 10.0.0.1:22 iif=eth0 ctstate=NEW")[1]
               for name in ("iptables-S.txt", "iptables-save.txt")]
    without_lines = [re.sub(r"  \(line \d+\)", "", answer) for answer in answers]
    assert without_lines[0] == without_lines[1]
    assert "REJECT by filter:IN_public_deny #3" in answers[0]


def test_bad_input_is_reported_with_its_place_and_a_caret(bad: Path) -> None:
    status, out, err = cli("fmt", str(bad))
    assert (status, out) == (1, "")
    assert err.splitlines() == [f'{bad}:4:17: error: unknown option "--bogus"',
                                "-A INPUT -p tcp --bogus 1 -j DROP",
                                " " * 16 + "^"]


def test_check_lists_every_error_and_passes_good_files(bad: Path) -> None:
    status, out, _ = cli("check", str(bad), str(SEED / "iptables-save.txt"))
    assert status == 1
    assert out.splitlines() == [f'{bad}:4:17: error: unknown option "--bogus"',
                                f"{bad}:5:13: error: unknown chain NOPE in -j"]
    assert cli("check", str(SEED / "iptables-save.txt"), str(SEED / "ipset-list.txt")) == (
        0, "", "")


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    for argv in (["fmt", str(tmp_path / "nothing")], ["show", str(tmp_path / "nothing")],
                 ["trace", str(tmp_path / "nothing"), "-p", "tcp 1.2.3.4 -> 5.6.7.8"]):
        status, out, err = cli(*argv)
        assert (status, out) == (1, "")
        assert re.fullmatch(rf"iptparse {argv[0]}: error: .*nothing: no such file\n", err)


def test_show_summarises_tables_chains_and_sets() -> None:
    status, out, _ = cli("show", str(SEED / "iptables-save.txt"))
    assert status == 0
    assert out.splitlines()[0].endswith(": ipv4, 4 table(s), 621 rule(s)")
    assert re.search(r"^    cali-tw-calid3b581beed8 +12 rule\(s\)  user chain$", out, re.M)
    assert re.search(r"^    FORWARD +\d+ rule\(s\)  policy ACCEPT$", out, re.M)
    status, out, _ = cli("show", str(SEED / "ipset-list.txt"))
    assert re.search(r"^  cali40s:d0vaXDV0OjdKq6czssWe9SI +hash:net +inet +15 member\(s\)$",
                     out, re.M)


def test_lenient_skips_what_does_not_parse_and_says_so(pasted: Path) -> None:
    status, _, err = cli("show", str(pasted))
    assert status == 1 and f"{pasted}:1:1: error:" in err
    warning = f"{pasted}:1:1: warning: skipped: a shell prompt and command pasted with the dump"
    for argv in (["show", str(pasted)], ["fmt", str(pasted)],
                 ["trace", str(pasted), "-p", "tcp 1.2.3.4 -> 5.6.7.8:22 iif=eth0", "--path",
                  "in"]):
        status, out, err = cli(*argv, "--lenient")
        assert status == 0, err
        assert err.startswith(warning) and err.count("warning:") == 1
    assert "ACCEPT by filter:INPUT #1" in out
    _, out, _ = cli("trace", str(pasted), "-p", "tcp 1.2.3.4 -> 5.6.7.8:22 iif=eth0", "--path",
                    "in", "--lenient", "--json")
    [skipped] = json.loads(out)["warnings"]
    assert (skipped["file"], skipped["line"], skipped["column"]) == (str(pasted), 1, 1)
    assert skipped["warning"].startswith("skipped: a shell prompt and command pasted")


# --- trace ---------------------------------------------------------------------------------

def test_trace_names_the_rule_that_drops_the_default_pod() -> None:
    status, out, err = cli("trace", *SEED_ARGS, "-p", DEFAULT_POD, "--color", "never")
    assert (status, err) == (0, "")
    verdict = out.rstrip("\n").split("\n\n")[-1].splitlines()
    assert verdict[0] == "DROP by filter:cali-tw-calid3b581beed8 #7"
    assert verdict[1].endswith('--comment "Drop if no policies passed packet" -m mark --mark '
                               '0x0/0x20000 -j DROP')
    # the backtrace went into the policy chain and fell off its end
    assert "<- end of chain of cali-pi-_FSXf14qKl1ZqjRcvUXU: back to cali-tw-calid3b581beed8 " \
        "after #5" in out


def test_trace_takes_the_packet_given_last_as_people_type_it(tmp_path: Path) -> None:
    """`iptparse trace RULES… 'tcp …'`: the last argument is the packet when no file has that
    name; a typo in a file name is said as both; nothing to take is a usage error."""
    rules = str(SEED / "iptables-save.txt")
    given = cli("trace", *SEED_ARGS, "-p", DEFAULT_POD, "--color", "never")
    assert given[0] == 0
    assert cli("trace", *SEED_ARGS, DEFAULT_POD, "--color", "never") == given
    assert cli("trace", SEED_ARGS[0], DEFAULT_POD, *SEED_ARGS[1:], "--color", "never") == given
    status, out, err = cli("trace", rules, "nodes.txt")
    assert (status, out) == (1, "")
    assert err == ("iptparse trace: error: nodes.txt: no such file, nor a packet (proto: unknown "
                   "protocol `nodes.txt')\n")
    status, _, err = cli("trace", rules)
    assert status == 2 and err.startswith("iptparse trace: error: no packet: give it with "
                                          "--packet SPEC")
    named = tmp_path / "tcp 1.2.3.4 -> 5.6.7.8"  # a file is a file, whatever its name
    named.write_text((SEED / "iptables-save.txt").read_text())
    status, _, err = cli("trace", rules, str(named))
    assert status == 2 and "no packet" in err



def test_trace_with_a_packet_and_no_rules_says_the_rules_are_missing(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch
                                                                    ) -> None:
    """The one argument reads as a packet: the rules were forgotten, not misspelt."""
    monkeypatch.chdir(tmp_path)
    status, out, err = cli("trace", DEFAULT_POD)
    assert (status, out) == (2, "")
    assert err == (f"iptparse trace: error: `{DEFAULT_POD}' reads as a packet, but no rules file "
                   f"was given: iptparse trace RULES… '{DEFAULT_POD}'\n")
    (tmp_path / "tcp").write_text(RULES)  # a file of that name is the rules
    status, _, err = cli("trace", "tcp")
    assert status == 2 and "no packet: give it with --packet" in err

def test_trace_accepts_the_kube_system_pod_with_the_policy_mark() -> None:
    status, out, _ = cli("trace", *SEED_ARGS, "-p", KUBE_SYSTEM_POD, "--color", "never")
    assert status == 0
    assert out.rstrip("\n").split("\n\n")[-1].startswith("ACCEPT by ")
    assert "-A cali-pi-_FSXf14qKl1ZqjRcvUXU" in out and "--set-xmark 0x10000/0x10000" in out
    assert '"Return if policy accepted" -m mark --mark 0x10000/0x10000 -j RETURN' in out


def test_trace_of_an_abstract_packet_reads_verdict_if_then_otherwise_last() -> None:
    status, out, _ = cli("trace", *SEED_ARGS, "-p",
                         "tcp 10.13.76.0/24 -> 10.13.76.19:8080 ctstate=NEW mark=0x0",
                         "--color", "never")
    assert status == 0
    first, last = summary(out)
    assert first.startswith("ACCEPT if (iif = lo and src ∈ ipset cali40s:d0vaXDV0OjdKq6czssWe9SI"
                            " (15 members))")
    assert last == "— DROP otherwise"
    assert "src ∈ {10.13.76.7, 10.13.76.9, 10.13.76.10, 10.13.76.12/30, 10.13.76.17, " in out


def test_otherwise_comes_last_even_when_its_verdict_sorts_first(rules: Path) -> None:
    _, out, _ = cli("trace", str(rules), "-p", "tcp 1.2.3.4 -> 5.6.7.8 iif=eth0 ctstate=NEW",
                    "--path", "in", "--color", "never")
    assert summary(out) == ["DROP if dport ∉ {22-23}", "— ACCEPT otherwise"]


def test_probabilities_are_summed_per_condition_never_across(tmp_path: Path) -> None:
    rules = tmp_path / "random.txt"
    rules.write_text("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                     "-A INPUT -p tcp -m statistic --mode random --probability 0.1 -j DROP\n"
                     "-A INPUT -p udp -m udp --dport 1 -j DROP\nCOMMIT\n")
    _, out, _ = cli("trace", str(rules), "-p", "1.2.3.4 -> 5.6.7.8 iif=eth0", "--path", "in",
                    "--color", "never")
    assert summary(out) == ["ACCEPT if proto ∉ {tcp, udp} or (proto = udp and dport ≠ 1)",
                            "ACCEPT if proto = tcp (probability 0.9)",
                            "DROP if proto = udp and dport = 1",
                            "DROP if proto = tcp (probability 0.1)"]


def test_a_trace_stopped_at_its_bound_says_so_first_and_claims_no_otherwise(
        tmp_path: Path) -> None:
    """With the walk stopped at --max-paths, the paths shown are not every way the packet can
    go: the warning comes before the summary, and no verdict is said to hold `otherwise`
    (here the walk stops with UDP dropped and sources 10.0.0.1-3 accepted; 10.0.0.4-10 are
    accepted too, every other source dropped)."""
    rules = tmp_path / "hosts.txt"
    rules.write_text("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                     "-A INPUT -p udp -j DROP\n"
                     + "".join(f"-A INPUT -s 10.0.0.{n}/32 -j ACCEPT\n" for n in range(1, 11))
                     + "COMMIT\n")
    status, out, _ = cli("trace", str(rules), "-p", "", "--path", "in", "--max-paths", "4",
                         "--color", "never")
    assert status == 0
    blocks = out.split("\n\n")
    assert blocks[1].startswith("warning: stopped at 4 paths")
    assert blocks[1].endswith("below are only the paths found before it")
    assert all("otherwise" not in line for line in summary("\n\n".join(blocks[1:])))
    assert out.rstrip().endswith("give more fields or raise --max-paths")
    assert "DROP if proto = udp" in summary("\n\n".join(blocks[1:]))  # both verdicts seen
    _, whole, _ = cli("trace", str(rules), "-p", "", "--path", "in", "--color", "never")
    assert "warning" not in whole and summary(whole)[-1] == "— ACCEPT otherwise"


def test_a_service_over_three_endpoints_is_accepted_always(tmp_path: Path) -> None:
    addrs = tmp_path / "addrs.txt"
    addrs.write_text("cni0 10.244.0.1/16\n")
    _, out, _ = cli("trace", str(PROJECT_CORPORA / "kube-proxy" / "iptables-save.txt"),
                    "--addrs", str(addrs), "-p",
                    "tcp 10.244.9.9:40000 -> 10.96.41.17:80 iif=cni0 ctstate=NEW mark=0x0",
                    "--color", "never")
    assert summary(out) == ["ACCEPT always"]
    assert out.count("(probability 0.3333)") == 3


def test_each_path_names_the_table_where_its_rules_change_table() -> None:
    """firewalld has PREROUTING, PREROUTING_ZONES and PRE_drop in raw, mangle and nat alike:
    the rules a path matched say which table each run of them is in."""
    firewalld = PROJECT_CORPORA / "firewalld"
    _, out, _ = cli("trace", str(firewalld / "iptables-save.txt"), "--ipset",
                    str(firewalld / "ipset-save.txt"), "--path", "in", "--color", "never", "-p",
                    "tcp 203.0.113.5:40000 -> 10.0.0.1:22 iif=eth0 ctstate=NEW")
    rules = [line.removeprefix("  rules: ").split(" → ") for line in out.splitlines()
             if line.startswith("  rules: ")]
    assert len(rules) == 2  # logged or not: pkttype is not given
    for hits in rules:
        named = [hit for hit in hits if ":" in hit]
        assert named == ["raw:PREROUTING#1", "mangle:PREROUTING#1", "nat:PREROUTING#1",
                         "mangle:INPUT#1", "filter:INPUT#5"]
        assert hits[-1] == "IN_drop#9" and hits.count("PRE_drop#7") == 3


def test_assume_pins_a_kind_or_one_rule(rules: Path) -> None:
    packet = ["-p", "udp 1.2.3.4 -> 5.6.7.8:53 iif=eth0", "--path", "in", "--color", "never"]
    _, out, _ = cli("trace", str(rules), *packet)
    assert summary(out) == ["DROP if limit 5/sec (burst 5) exceeded at filter:INPUT #3",
                            "— ACCEPT otherwise"]
    for pin, verdict in (("limit=under", "ACCEPT by filter:INPUT #3"),
                         ("limit=over", "DROP by the policy of filter:INPUT"),
                         ("limit@filter:INPUT:3=over", "DROP by the policy of filter:INPUT")):
        status, out, _ = cli("trace", str(rules), *packet, "--assume", pin)
        assert status == 0 and verdict in out and "exceeded" not in out, pin
    _, out, _ = cli("trace", str(rules), *packet, "--assume", "limit=under", "--assume",
                    "limit@filter:INPUT:3=over")
    assert "DROP by the policy of filter:INPUT" in out  # the rule's own pin wins
    status, _, err = cli("trace", str(rules), *packet, "--assume", "limit=maybe")
    assert status == 1 and "say KIND=true or KIND=false" in err


UFW_LIKE = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:deny-log - [0:0]
:not-local - [0:0]
-A INPUT -s 192.0.2.0/24 -j REJECT
-A INPUT -j not-local
-A deny-log -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix "[BLOCK] "
-A not-local -d 10.0.0.1/32 -j RETURN
-A not-local -m limit --limit 3/min --limit-burst 10 -j deny-log
-A not-local -j DROP
COMMIT
"""


def test_limits_that_only_decide_logging_leave_the_summary(tmp_path: Path) -> None:
    """ufw's not-local chain: a limit decides whether to log, and a second limit of the same
    rate in the logging chain decides again, before the DROP every way. The summary reads as
    the verdict's condition on the packet; each path names the rule of each limit (the same
    rate in two rules is two buckets, not one condition met and not met)."""
    path = tmp_path / "ufw.txt"
    path.write_text(UFW_LIKE)
    _, out, _ = cli("trace", str(path), "-p", "udp 0.0.0.0/0 -> 10.0.0.0/24:53 iif=eth0",
                    "--path", "in", "--color", "never")
    assert summary(out) == ["ACCEPT if src ∉ 192.0.2.0/24 and dst = 10.0.0.1",
                            "DROP if src ∉ 192.0.2.0/24 and dst ≠ 10.0.0.1",
                            "REJECT if src ∈ 192.0.2.0/24"]
    assert ("  if src ∉ 192.0.2.0/24 and dst ≠ 10.0.0.1 and limit 3/min (burst 10) not exceeded "
            "at filter:not-local #2 and limit 3/min (burst 10) exceeded at filter:deny-log #1"
            ) in out.splitlines()


FORWARDS = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -s 10.0.0.0/8 -j ACCEPT
-A FORWARD -p tcp -j ACCEPT
COMMIT
"""


def test_what_a_verdict_takes_over_its_paths(tmp_path: Path) -> None:
    """The line under the summary for a verdict of several paths: the fields its paths
    narrow, taken together; not the TTL the walk takes a forwarded packet to have when the
    packet does not give one (no rule asked for it), but the TTL the packet gave, narrowed."""
    path = tmp_path / "forwards.txt"
    path.write_text(FORWARDS)
    packet = "tcp 0.0.0.0/0 -> 192.0.2.1:80 iif=eth0 oif=eth1"
    _, out, _ = cli("trace", str(path), "-p", packet, "--color", "never")
    assert summary(out) == ["ACCEPT always"]
    assert "takes, over all its paths" not in out
    _, out, _ = cli("trace", str(path), "-p", f"{packet} ttl=0-5", "--color", "never")
    assert summary(out) == ["DROP if ttl ≤ 1", "— ACCEPT otherwise"]
    assert "  ACCEPT (2 paths) takes, over all its paths: ttl ∈ 2-5" in out.splitlines()
    ufw = tmp_path / "ufw.txt"
    ufw.write_text(UFW_LIKE)
    _, out, _ = cli("trace", str(ufw), "-p", "udp 0.0.0.0/0 -> 10.0.0.0/24:53 iif=eth0",
                    "--path", "in", "--color", "never")
    assert ("  DROP (3 paths) takes, over all its paths: src ∉ {192.0.2.0/24}, dst ∈ "
            "10.0.0.0/24 except 10.0.0.1") in out.splitlines()


BY_INTERFACE = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -i docker0 -j ACCEPT
-A FORWARD -i virbr0 -j REJECT
-A FORWARD -o eth0 -j DROP
COMMIT
"""


def test_a_received_packets_interface_is_never_shown_as_not_none(tmp_path: Path) -> None:
    """An input interface split twice reads as its final set; that a received packet came in
    on some interface (never the empty name) is how the walk starts, not a condition."""
    path = tmp_path / "by-interface.txt"
    path.write_text(BY_INTERFACE)
    _, out, _ = cli("trace", str(path), "-p", "tcp 10.0.0.1 -> 10.0.0.2:80", "--color", "never")
    assert summary(out) == ["ACCEPT if (iif ∉ {docker0, virbr0} and oif ≠ eth0) or iif = docker0",
                            "DROP if iif ∉ {docker0, virbr0} and oif = eth0",
                            "REJECT if iif = virbr0"]
    assert "(none)" not in out


STATES_APART = """*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j DROP
-A INPUT -m conntrack --ctstate NEW -j LOG
COMMIT
"""


def test_one_verdict_on_every_path_is_always(tmp_path: Path) -> None:
    """Three ways to DROP on one field's three parts: the paths of a complete walk share the
    packets out among them, so the answer is that verdict always; the paths still say how."""
    path = tmp_path / "states.txt"
    path.write_text(STATES_APART)
    _, out, _ = cli("trace", str(path), "-p", "tcp 10.0.0.1 -> 10.0.0.2:80 iif=eth0",
                    "--path", "in", "--color", "never")
    assert summary(out) == ["DROP always"]
    assert len(re.findall(r"^path \d+: DROP", out, re.MULTILINE)) == 4
    _, out, _ = cli("trace", str(path), "-p", "tcp 10.0.0.1 -> 10.0.0.2:80 iif=eth0",
                    "--path", "in", "--color", "never", "--max-paths", "2")
    assert "DROP always" not in out  # the paths not walked may end otherwise


STATES_AND_LO = """*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -m conntrack --ctstate NEW -j LOG
COMMIT
"""


def test_ways_alike_but_for_one_field_read_as_one(tmp_path: Path) -> None:
    """INVALID dropped by a rule, NEW and the other states by the policy: three ways that
    differ only in the connection state read as one, with the states they share out."""
    path = tmp_path / "states.txt"
    path.write_text(STATES_AND_LO)
    _, out, _ = cli("trace", str(path), "-p", "tcp 10.0.0.1 -> 10.0.0.2:80", "--path", "in",
                    "--color", "never")
    assert summary(out) == ["DROP if ctstate ∉ {ESTABLISHED, RELATED} and iif ≠ lo",
                            "— ACCEPT otherwise"]


def test_trace_notes_a_port_read_as_part_of_an_ipv6_address(tmp_path: Path) -> None:
    path = tmp_path / "v6.txt"
    path.write_text("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                    "-A INPUT -s 2001:db8::/32 -p tcp --dport 22 -j DROP\nCOMMIT\n")
    status, out, err = cli("trace", str(path), "-p", "tcp 2001:db8::1 -> 2001:db8::2:22",
                           "--path", "in", "--color", "never")
    assert status == 0 and "DROP if dport = 22" in out
    assert err == ("iptparse trace: note: `2001:db8::2:22' is read as one IPv6 address; for "
                   "port 22 write [2001:db8::2]:22\n")


def test_trace_json_lists_every_path_with_its_constraint() -> None:
    status, out, _ = cli("trace", *SEED_ARGS, "--json", "-p",
                         "tcp 10.13.76.0/24 -> 10.13.76.19:8080 ctstate=NEW mark=0x0")
    assert status == 0
    result = json.loads(out)
    assert result["path"] == "forward" and result["family"] == "ipv4"
    verdicts = {p["verdict"] for p in result["paths"]}
    assert verdicts == {"ACCEPT", "DROP"}
    for path in result["paths"]:
        assert path["probability"] == 1.0
        assert path["conditions"] and all(isinstance(c, str) for c in path["conditions"])
        assert len(path["constraint"]) == len(path["conditions"])
        assert path["hits"] and {"table", "chain", "rule"} <= set(path["hits"][0])
    accepted = [c["src"] for p in result["paths"] if p["verdict"] == "ACCEPT"
                for c in p["constraint"]]
    assert "= 10.13.76.17" in accepted


def test_trace_json_gives_each_kube_proxy_endpoint_its_share(tmp_path: Path) -> None:
    addrs = tmp_path / "addrs.txt"
    addrs.write_text("cni0 10.244.0.1/16\n")
    status, out, err = cli("trace", str(PROJECT_CORPORA / "kube-proxy" / "iptables-save.txt"),
                           "--addrs", str(addrs), "--json", "-p",
                           "tcp 10.244.9.9:40000 -> 10.96.41.17:80 iif=cni0 ctstate=NEW mark=0x0")
    assert status == 0, err
    shares: dict[str, Fraction] = {}
    for path in json.loads(out)["paths"]:
        assert path["verdict"] == "ACCEPT"
        dst = path["packet"]["dst"]
        shares[dst] = shares.get(dst, Fraction(0)) + Fraction(path["probability"])
    assert set(shares) == {"= 10.244.3.9", "= 10.244.1.5", "= 10.244.2.7"}
    assert all(share == pytest.approx(1 / 3, abs=1e-6) for share in shares.values())


def test_trace_json_names_each_draw_of_a_rule_met_twice(tmp_path: Path) -> None:
    """A rule the path evaluates twice draws twice: its key, then `(1 of 2)`/`(2 of 2)` in
    the order the path made them; a rule met once keeps its key as users pin it."""
    dump = tmp_path / "twice.rules"
    dump.write_text("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                    ":ONCE - [0:0]\n:R - [0:0]\n-A FORWARD -j R\n-A FORWARD -j R\n"
                    "-A FORWARD -j ONCE\n"
                    "-A ONCE -m statistic --mode random --probability 0.50000000000\n"
                    "-A R -m statistic --mode random --probability 0.50000000000\nCOMMIT\n")
    status, out, err = cli("trace", str(dump), "--json", "-p", "udp 1.1.1.1:1 -> 2.2.2.2:2")
    assert status == 0, err
    seen = set()
    for path in json.loads(out)["paths"]:
        assert path["probability"] == 0.125
        (constraint,) = path["constraint"]
        # which visits of R matched: rule 1 of FORWARD jumps before rule 2
        hits = [(h["chain"], h["rule"]) for h in path["hits"]]
        first = hits[hits.index(("FORWARD", 1)) + 1] == ("R", 1)
        second = hits[hits.index(("FORWARD", 2)) + 1] == ("R", 1)
        holds = {True: "holds", False: "does not hold"}
        assert constraint["statistic@filter:R:1 (1 of 2)"] == holds[first]
        assert constraint["statistic@filter:R:1 (2 of 2)"] == holds[second]
        assert constraint["statistic@filter:ONCE:1"] == holds[("ONCE", 1) in hits]
        seen.add((first, second, ("ONCE", 1) in hits))
    assert len(seen) == 8


def test_trace_json_names_each_assumption_by_the_key_that_pins_it(tmp_path: Path) -> None:
    """A bpf instruction's key ends in `#PC` and must not read as a visit of its rule; a
    rule's second statistic match has a key of its own. Each name the JSON gives pins it."""
    dump = tmp_path / "keys.rules"
    dump.write_text("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                    '-A FORWARD -m bpf --bytecode "4,40 0 0 4,21 0 1 5,6 0 0 1,6 0 0 0" -j DROP\n'
                    "-A FORWARD -m statistic --mode random --probability 0.50000000000 "
                    "-m statistic --mode random --probability 0.50000000000 -j REJECT\nCOMMIT\n")
    status, out, err = cli("trace", str(dump), "--json", "-p", "udp 1.1.1.1:1 -> 2.2.2.2:2")
    assert status == 0, err
    names = {"bpf@filter:FORWARD:1#1", "statistic@filter:FORWARD:2",
             "statistic#2@filter:FORWARD:2"}
    for path in json.loads(out)["paths"]:
        (constraint,) = path["constraint"]
        assert {k for k in constraint if "@" in k} <= names
        pins = [f"{name}={'true' if constraint.get(name) == 'holds' else 'false'}"
                for name in names]
        status, again, err = cli("trace", str(dump), "--json", "-p", "udp 1.1.1.1:1 -> 2.2.2.2:2",
                                 *[w for pin in pins for w in ("--assume", pin)])
        assert status == 0, err
        (pinned,) = json.loads(again)["paths"]
        assert (pinned["verdict"], pinned["hits"]) == (path["verdict"], path["hits"]), pins


def test_a_bad_host_file_is_named_in_one_error_line(rules: Path, tmp_path: Path) -> None:
    addrs = tmp_path / "addrs.txt"
    addrs.write_text("10.244.0.1/16 dev cni0\n")
    status, out, err = cli("trace", str(rules), "--addrs", str(addrs), "-p", "tcp 1.2.3.4 -> x")
    assert (status, out) == (1, "")
    assert err.startswith(f"iptparse trace: error: {addrs}: line 1: cannot read an address in "
                          "`10.244.0.1/16 dev cni0' (give `ip addr` output")
    assert err.count("\n") == 1


def test_a_bad_packet_or_family_is_one_error_line(rules: Path) -> None:
    status, out, err = cli("trace", str(rules), "-p", "tcp 1.2.3.4 => 5.6.7.8")
    assert (status, out) == (1, "")
    assert err.startswith("iptparse trace: error: ") and err.count("\n") == 1
    status, _, err = cli("trace", str(rules), "-p", "tcp 2001:db8::1 -> 2001:db8::2")
    assert status == 1
    assert err == ("iptparse trace: error: the packet is ipv6 but the rules given are ipv4 "
                   "only: give the node's ip6tables-save output too, or an ipv4 packet\n")


def test_trace_follows_the_routing_rules_in_a_routes_file(tmp_path: Path) -> None:
    """`ip rule` and `ip route show table all` output in one --routes file: a mark sends
    the packet to TPROXY's local route; a line that is no rule is named."""
    rules = tmp_path / "rules"
    rules.write_text("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
                     ":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
                     "-A PREROUTING -p tcp -m tcp --dport 80 -j MARK --set-xmark "
                     "0x1/0xffffffff\nCOMMIT\n")
    routes = tmp_path / "routes"
    routes.write_text("0:\tfrom all lookup local\n100:\tfrom all fwmark 0x1 lookup 100\n"
                      "32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n"
                      "default via 10.0.0.1 dev eth0\nlocal default dev lo table 100\n")
    code, out, _ = cli("trace", str(rules), "--routes", str(routes), "-p",
                       "tcp 192.0.2.9 -> 203.0.113.7 iif=eth1 ctstate=NEW mark=0")
    assert code == 0  # the marked packets are the host's (INPUT), the rest forwarded
    assert "ACCEPT by the policy of mangle:INPUT\n  if dport = 80\n" in out
    assert "ACCEPT by the policy of mangle:POSTROUTING\n  if dport ≠ 80\n" in out
    code, out, _ = cli("trace", str(rules), "--routes", str(routes), "-p",
                       "tcp 192.0.2.9 -> 203.0.113.7:80 iif=eth1 ctstate=NEW mark=0")
    assert code == 0 and ("routing: delivered locally (INPUT) by route local default dev lo "
                          "table 100 (rule 100: from all fwmark 0x1 lookup 100)") in out
    routes.write_text("0:\tfrom all lookup local\n100:\tfrom all fwmark 1 lookup\n")
    code, _, err = cli("trace", str(rules), "--routes", str(routes), "-p",
                       "tcp 1.2.3.4 -> 5.6.7.8")
    assert code != 0 and "routes: line 2: cannot read a routing rule in `100:" in err
    assert "Traceback" not in err


def test_trace_applies_the_sysctls(tmp_path: Path) -> None:
    """--sysctl: strict rp_filter drops a packet whose source is routed out another
    interface; a setting that is no number is named with its line."""
    rules = tmp_path / "rules"
    rules.write_text(RULES)
    routes = tmp_path / "routes"
    routes.write_text("default via 10.0.0.1 dev eth0\n"
                      "192.168.1.0/24 dev eth1 proto kernel scope link src 192.168.1.1\n")
    sysctl = tmp_path / "sysctl"
    sysctl.write_text("net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.all.accept_local = 0\n")
    args = ["trace", str(rules), "--routes", str(routes), "--sysctl", str(sysctl), "-p"]
    code, out, _ = cli(*args, "tcp 203.0.113.9:4000 -> 10.0.0.7:22 iif=eth1")
    assert code == 0 and ("DROP by routing (a martian source: it fails the kernel's source "
                          "validation, by the sysctls rp_filter and accept_local)") in out
    code, out, _ = cli(*args, "tcp 192.168.1.9:4000 -> 10.0.0.7:22 iif=eth1")
    assert code == 0 and "ACCEPT" in out and "martian" not in out
    sysctl.write_text("net.ipv4.conf.eth1.rp_filter = loose\n")
    code, _, err = cli(*args, "tcp 192.168.1.9:4000 -> 10.0.0.7:22 iif=eth1")
    assert code != 0 and "sysctl: line 1: cannot read the setting" in err
    assert "Traceback" not in err


def test_a_routes_file_with_rules_on_standard_input(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`--routes -`: read once, for its routes and its rules both."""
    rules = tmp_path / "rules"
    rules.write_text("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
                     ":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
                     "COMMIT\n")
    text = ("0:\tfrom all lookup local\n100:\tfrom all fwmark 0x1 lookup 100\n"
            "32766:\tfrom all lookup main\ndefault via 10.0.0.1 dev eth0\n"
            "local default dev lo table 100\n")
    stdin = io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    code, out, _ = cli("trace", str(rules), "--routes", "-", "-p",
                       "tcp 192.0.2.9 -> 203.0.113.7:80 iif=eth1 ctstate=NEW mark=0x1")
    assert code == 0 and "path:   forward" in out
    assert "routing: delivered locally (INPUT) by route local default dev lo table 100" in out
