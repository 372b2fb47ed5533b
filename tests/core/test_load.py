"""Loading a node's captured files (iptparse/load.py, and how Ruleset reads several dumps of
one family): a file per table is one dump, a table given again replaces the earlier one as
iptables-restore reading the files in turn would, with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from iptparse.errors import ParseWarning
from iptparse.load import load_ruleset
from iptparse.nodes import Family
from iptparse.packet import Packet, parse_packet
from iptparse.parser import parse_iptables
from iptparse.sandbox.frames import KernelPacket
from iptparse.sandbox.netns import Netns
from iptparse.trace import trace
from iptparse.verify.run import verify_dump

from ..conftest import require_kernel

FILTER = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
          "-A INPUT -p tcp -m tcp --dport 22 -j DROP\nCOMMIT\n")
NAT = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
       ":POSTROUTING ACCEPT [0:0]\n"
       "-A PREROUTING -p tcp -m tcp --dport 2222 -j DNAT --to-destination :22\nCOMMIT\n")
OPEN = FILTER.replace("-j DROP", "-j ACCEPT")
SSH = parse_packet("tcp 10.0.0.1:40000 -> 10.0.0.2:22 iif=eth0 ctstate=NEW")
VIA_2222 = parse_packet("tcp 10.0.0.1:40000 -> 10.0.0.2:2222 iif=eth0 ctstate=NEW")


def _files(tmp_path: Path, *texts: str) -> list[Path]:
    paths = []
    for index, text in enumerate(texts):
        path = tmp_path / f"capture-{index}.txt"
        path.write_text(text)
        paths.append(path)
    return paths


def _verdicts(paths: list[Path], packet: Packet, warnings: list[ParseWarning] | None = None
              ) -> set[str]:
    ruleset = load_ruleset(paths, warnings=warnings)
    return {p.verdict for p in trace(ruleset, packet, "in").paths}


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_a_file_per_table_is_one_dump(order: tuple[int, int], tmp_path: Path) -> None:
    """`iptables-save -t filter > f; iptables-save -t nat > n`, given in either order: the
    packet to 2222 is DNATed to 22 by one file and dropped by the other (the second file
    used to replace the first whole, so one of the two tables was never consulted)."""
    files = _files(tmp_path, FILTER, NAT)
    paths = [files[i] for i in order]
    warnings: list[ParseWarning] = []
    assert _verdicts(paths, VIA_2222, warnings) == {"DROP"}
    assert _verdicts(paths, SSH) == {"DROP"}
    assert warnings == []
    tables = load_ruleset(paths).dumps[Family.INET].tables
    assert sorted(t.name for t in tables) == ["filter", "nat"]


def test_a_table_given_again_replaces_the_earlier_with_a_warning(tmp_path: Path) -> None:
    first, second = _files(tmp_path, FILTER, "# taken later\n" + OPEN)
    warnings: list[ParseWarning] = []
    assert _verdicts([first, second], SSH, warnings) == {"ACCEPT"}
    [warning] = warnings
    assert (warning.filename, warning.line, warning.line_text) == (str(second), 2, "*filter")
    assert warning.message.startswith(f"table filter again: it replaces the one in {first} "
                                      "(line 1)")
    assert _verdicts([second, first], SSH) == {"DROP"}
    # within one file it is iptables-restore input like any other: the later table, no warning
    warnings.clear()
    single = tmp_path / "single.txt"
    single.write_text(FILTER + OPEN)
    assert _verdicts([single], SSH, warnings) == {"ACCEPT"}
    assert warnings == []


def test_both_families_stay_apart(tmp_path: Path) -> None:
    v6 = FILTER.replace("--dport 22", "--dport 23")
    paths = _files(tmp_path, FILTER, v6)
    (tmp_path / "capture-1.txt").rename(tmp_path / "ip6tables-save.txt")
    ruleset = load_ruleset([paths[0], tmp_path / "ip6tables-save.txt"])
    assert set(ruleset.dumps) == {Family.INET, Family.INET6}


@pytest.mark.kernel
def test_the_kernel_reads_the_files_in_turn_alike(netns: Netns, tmp_path: Path) -> None:
    """iptables-restore of the two filter files one after the other keeps the second's rules:
    what the model traces."""
    netns.run(["iptables-legacy-restore"], input=FILTER)
    netns.run(["iptables-legacy-restore"], input=OPEN)
    saved = netns.run(["iptables-legacy-save", "-t", "filter"]).stdout
    kernel = parse_iptables(saved).table("filter")
    assert kernel is not None
    dump = load_ruleset(_files(tmp_path, FILTER, OPEN)).dumps[Family.INET]
    ours = [t for t in dump.tables if t.name == "filter"][-1]  # what the walk consults
    assert [(c.name, c.rules) for c in ours.chains] == [(c.name, c.rules) for c in kernel.chains]
    assert [(c.name, c.rules) for c in ours.chains] != [
        (c.name, c.rules) for c in parse_iptables(FILTER).tables[0].chains]


EMPTY_NAT = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             ":POSTROUTING ACCEPT [0:0]\nCOMMIT\n")
TRACKING = FILTER.replace("-p tcp -m tcp --dport 22 -j DROP", "-m conntrack --ctstate INVALID "
                          "-j DROP")


@pytest.mark.kernel
def test_a_replaced_table_takes_its_needs_with_it(tmp_path: Path) -> None:
    """Conntrack runs while some rule needs it: the replaced filter table's conntrack match
    goes with it, and nat is consulted no more (the model kept the match in mind and walked
    nat's chains, which the kernel did not)."""
    require_kernel()
    packets = [(KernelPacket(src="10.1.1.1", dst="10.9.9.9", dport=22, iif="eth0"), "in")]
    for text, tracked in ((EMPTY_NAT + TRACKING, True), (EMPTY_NAT + TRACKING + OPEN, False)):
        (checked,) = verify_dump(text, name="replaced.rules", packets=packets).comparisons
        assert checked.outcome == "agree"
        assert (("nat", "PREROUTING") in checked.kernel.policies) == tracked
    files = _files(tmp_path, EMPTY_NAT + TRACKING, OPEN)
    assert load_ruleset(files[:1]).conntrack_active(Family.INET)
    assert not load_ruleset(files).conntrack_active(Family.INET)
