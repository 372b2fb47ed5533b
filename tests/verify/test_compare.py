"""Judging one packet: iptparse's paths against kernel counters, without the kernel (the
counters are written by hand; test_differential gets them from the kernel)."""

from __future__ import annotations

from iptparse.nodes import Family
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.sandbox.frames import KernelPacket
from iptparse.sandbox.lab import KernelResult
from iptparse.verify.compare import AGREE, DISAGREE, NOT_MODELLED, Comparison, compare
from iptparse.verify.model import lab_host, model_packet
from iptparse.verify.report import VerifyReport, reproduction

PACKET = KernelPacket(src="10.0.1.1", dst="10.0.2.2", dport=22, iif="eth0", oif="eth1")


def rules(body: str, chains: str = "", forward: str = "DROP") -> str:
    return (f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD {forward} [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            f"{chains}{body}COMMIT\n")


def kernel(hits: dict[tuple[str, str, int], int], policies: dict[tuple[str, str], int],
           delivered: bool) -> KernelResult:
    """Counters as the lab reports them; a delivered packet is one R's stack took (`local`:
    the comparison reads local or egress, whatever the path)."""
    return KernelResult(hits, policies, delivered, delivered, (), "")


def judge(text: str, result: KernelResult, packet: KernelPacket = PACKET) -> Comparison:
    dump = parse_iptables(text)
    ruleset = Ruleset([dump], host=lab_host(packet, "forward"))
    return compare(ruleset, packet, model_packet(packet, "forward"), "forward", result)


def test_exact_counters_agree() -> None:
    text = rules("-A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT\n"
                 "-A FORWARD -p tcp -m tcp --dport 22 -j ACCEPT\n")
    ok = judge(text, kernel({("filter", "FORWARD", 2): 1}, {}, True))
    assert ok.outcome == AGREE and ok.chosen is not None and not ok.chosen.assumptions
    wrong = judge(text, kernel({("filter", "FORWARD", 1): 1}, {}, True))
    assert wrong.outcome == DISAGREE
    (divergence,) = wrong.divergences
    assert divergence.where == "filter:FORWARD:1" and (divergence.kernel, divergence.model) == (
        1, 0)
    assert divergence.conditions == (("-p tcp", True), ("-m tcp --dport 80", False))
    text_form = reproduction(wrong, "r.txt")
    assert "filter:FORWARD:1  -A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT" in text_form
    assert f"--packet '{wrong.model}'" in text_form


def test_delivery_and_policies_must_match_too() -> None:
    text = rules("-A FORWARD -p udp -j ACCEPT\n")
    dropped = {("filter", "FORWARD"): 1}
    assert judge(text, kernel({}, dropped, False)).outcome == AGREE
    comparison = judge(text, kernel({}, dropped, True))
    assert comparison.outcome == DISAGREE
    assert comparison.divergences[0].where == "delivery"
    comparison = judge(text, kernel({}, {}, False))
    assert comparison.divergences[0].where == "policy filter:FORWARD"


def test_a_chain_entered_twice_counts_its_rules_twice() -> None:
    text = rules("-A FORWARD -j sub\n-A FORWARD -p tcp -j sub\n-A sub -p tcp\n",
                 ":sub - [0:0]\n", forward="ACCEPT")
    twice = {("filter", "FORWARD", 1): 1, ("filter", "FORWARD", 2): 1, ("filter", "sub", 1): 2}
    policy = {("filter", "FORWARD"): 1}
    assert judge(text, kernel(twice, policy, True)).outcome == AGREE
    once = dict(twice) | {("filter", "sub", 1): 1}
    comparison = judge(text, kernel(once, policy, True))
    assert comparison.outcome == DISAGREE
    assert comparison.divergences[0].where == "filter:sub:1"


def test_matches_and_targets_without_semantics_are_not_agreement() -> None:
    text = rules("-A FORWARD -m nosuchmod --foo 1 -j ACCEPT\n")
    held = judge(text, kernel({("filter", "FORWARD", 1): 1}, {}, True))
    assert held.outcome == NOT_MODELLED and "nosuchmod" in held.reason
    failed = judge(text, kernel({}, {("filter", "FORWARD"): 1}, False))
    assert failed.outcome == NOT_MODELLED
    # the kernel's path must still be one of iptparse's: a policy that moved without reason
    impossible = judge(text, kernel({}, {}, True))
    assert impossible.outcome == DISAGREE
    unknown = judge(rules("-A FORWARD -p tcp\n-A FORWARD -j NOSUCHTARGET --bar\n"),
                    kernel({("filter", "FORWARD", 1): 1, ("filter", "FORWARD", 2): 1}, {}, True))
    assert unknown.outcome == NOT_MODELLED and unknown.reason.startswith("ends UNKNOWN")
    # an UNKNOWN path is a prefix of the kernel's: a rule it hit that the kernel did not count
    # is still a disagreement
    wrong = judge(rules("-A FORWARD -p tcp\n-A FORWARD -j NOSUCHTARGET --bar\n"),
                  kernel({("filter", "FORWARD", 2): 1}, {}, True))
    assert wrong.outcome == DISAGREE and wrong.divergences[0].where == "filter:FORWARD:1"


def test_many_unmodelled_matches_are_explored_linearly() -> None:
    body = "".join(f"-A FORWARD -m nosuchmod --n {i}\n" for i in range(40))
    hits = {("filter", "FORWARD", 7): 1, ("filter", "FORWARD", 31): 1}
    comparison = judge(rules(body), kernel(hits, {("filter", "FORWARD"): 1}, False))
    assert comparison.outcome == NOT_MODELLED and comparison.chosen is not None
    assert comparison.chosen.hits == {("filter", "FORWARD", 7): 1, ("filter", "FORWARD", 31): 1}
    # unguided there are 2**40 paths; guided, each path the kernel keeps alive forks once a rule
    assert comparison.explored <= (len(hits) + 1) * 2 * 40


def test_report_counts_by_chain_and_module() -> None:
    text = rules("-A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT\n"
                 "-A FORWARD -m nosuchmod --x 1 -j ACCEPT\n")
    dump = parse_iptables(text)
    results = [judge(text, kernel({}, {("filter", "FORWARD"): 1}, False)),
               judge(text, kernel({("filter", "FORWARD", 1): 1}, {}, True))]
    report = VerifyReport.build("r.txt", dump, "legacy", results, seed=1)
    assert (report.packets.agree, report.packets.not_modelled, report.packets.disagree) == (
        0, 1, 1)
    assert report.modules["tcp"].agree == 1 and report.modules["nosuchmod"].not_modelled == 1
    assert report.chains["filter", "FORWARD"].disagree == 1
    assert not report.ok and "disagreement 1 of 1" in report.format()
    data = report.to_json()
    assert data["packets"]["disagree"] == 1 and data["rules_total"] == 2
    assert data["results"][1]["divergences"][0]["where"] == "filter:FORWARD:1"


def test_family_of_the_packet_is_kept() -> None:
    packet = KernelPacket(src="fd00::1", dst="fd00::2", protocol="udp", iif="eth0", oif="eth1")
    text = rules("-A FORWARD -p udp -j ACCEPT\n").replace("*filter", "# ip6tables-save\n*filter")
    dump = parse_iptables(text, family=Family.INET6)
    ruleset = Ruleset([dump], host=lab_host(packet, "forward"))
    result = compare(ruleset, packet, model_packet(packet, "forward"), "forward",
                     kernel({("filter", "FORWARD", 1): 1}, {}, True))
    assert result.outcome == AGREE
