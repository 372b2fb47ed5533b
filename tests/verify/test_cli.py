"""`iptparse verify` end to end: output, exit status, missing tools, and cleaning up."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from iptparse.sandbox.lab import Lab
from iptparse.verify import verify_dump

from .._cli import run_cli
from ..conftest import require_kernel
from ._lab import invert_tcp_ports, lab_namespaces

RULES = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         ":web - [0:0]\n"
         "-A INPUT -p udp -m udp --dport 53 -j DROP\n"
         "-A FORWARD -i eth+ -p tcp -j web\n"
         "-A FORWARD -s 10.5.0.0/16 -p udp -j ACCEPT\n"
         "-A web -p tcp -m tcp --dport 443 -j ACCEPT\n"
         "-A web -d 10.6.0.0/24 -j RETURN\n"
         "COMMIT\n")


def run(*argv: str) -> tuple[int, str, str]:
    return run_cli(["verify", *argv])


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.txt"
    path.write_text(RULES)
    return path


def test_missing_tools_exit_2_and_say_what(rules: Path, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no ip, no iptables, no ipset
    status, out, err = run(str(rules), "--ipset", str(rules))
    assert status == 2 and out == ""
    for tool in ("ip", "iptables-legacy-restore", "iptables-legacy-save", "ipset"):
        assert f" {tool}" in err
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # what missing_tools asks
    status, _, err = run(str(rules), "--backend", "nft")
    assert status == 2 and "missing root, ip, iptables-nft-restore, iptables-nft-save" in err


@pytest.mark.kernel
def test_samples_agree_and_exit_0(rules: Path) -> None:
    require_kernel()
    status, out, err = run(str(rules), "--samples", "16", "--seed", "2")
    assert (status, err) == (0, ""), out
    assert "16 packet(s), seed 2" in out and "0 disagree" in out
    assert "filter:web" in out and "kernel and iptparse agree" in out
    assert lab_namespaces() == set()


@pytest.mark.kernel
def test_json_and_packets_file(rules: Path, tmp_path: Path) -> None:
    require_kernel()
    packets = tmp_path / "packets.txt"
    packets.write_text("# the first names its oif: forwarded only; the second on both paths\n"
                       "tcp 10.5.0.1:1000 -> 10.6.0.9:443 iif=eth3 oif=eth4\n"
                       "udp 10.5.0.1:1000 -> 10.7.0.9:53 iif=eth3\n")
    status, out, err = run(str(rules), "--packets", str(packets), "--json")
    assert (status, err) == (0, "")
    data = json.loads(out)
    (report,) = data["reports"]
    assert data["ok"] and report["packets"]["agree"] == 3
    forward_tcp, inbound_udp, forward_udp = report["results"]
    assert forward_tcp["path"] == "forward"
    assert forward_tcp["packet"].startswith("tcp 10.5.0.1:1000 -> 10.6.0.9:443")
    assert forward_tcp["kernel"]["hits"] == [
        {"table": "filter", "chain": "FORWARD", "rule": 1, "count": 1},
        {"table": "filter", "chain": "web", "rule": 1, "count": 1}]
    assert inbound_udp["path"] == "in" and not inbound_udp["kernel"]["delivered"]
    assert inbound_udp["iptparse"]["verdict"] == "DROP"
    assert forward_udp["kernel"]["hits"] == [
        {"table": "filter", "chain": "FORWARD", "rule": 2, "count": 1}]
    assert forward_udp["kernel"]["delivered"] and forward_udp["iptparse"]["verdict"] == "ACCEPT"
    assert {m["module"] for m in report["modules"]} >= {"ip", "tcp"}


@pytest.mark.kernel
def test_disagreement_exit_1_with_a_reproduction(rules: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    require_kernel()
    invert_tcp_ports(monkeypatch)
    packets = tmp_path / "p.txt"
    packets.write_text("tcp 10.5.0.1:1000 -> 10.6.0.9:443 iif=eth3 oif=eth4\n")
    status, out, _ = run(str(rules), "--packets", str(packets), "--path", "forward")
    assert status == 1
    assert "disagreement 1 of 1" in out and "DISAGREE" in out
    assert "filter:web:1  -A web -p tcp -m tcp --dport 443 -j ACCEPT" in out
    assert f"iptparse verify {rules} --path forward --packets p.txt" in out
    assert lab_namespaces() == set()


@pytest.mark.kernel
def test_lenient_loads_what_iptparse_read(tmp_path: Path) -> None:
    """A pasted dump: the prompt line and a rule with an anonymised MAC are skipped, and the
    kernel gets the rest as iptables-save would print it."""
    require_kernel()
    pasted = tmp_path / "pasted.txt"
    pasted.write_text("root@node:~# iptables-save\n" + RULES.replace(
        "COMMIT", "-A web -m mac --mac-source XX:XX:XX:XX:XX:XX -j DROP\nCOMMIT"))
    status, _, err = run(str(pasted), "--samples", "4")
    assert status == 1 and f"{pasted}:1:1: error:" in err
    status, out, err = run(str(pasted), "--samples", "12", "--lenient")
    assert status == 0, out + err
    assert err.startswith(f"{pasted}:1:1: warning: skipped: a shell prompt and command pasted "
                          "with the dump")
    assert err.endswith("… and 1 more line(s) skipped (--verbose lists them)\n")
    assert "12 packet(s)" in out and "0 disagree" in out
    status, _, err = run(str(pasted), "--samples", "2", "--lenient", "--verbose")
    assert status == 0 and err.count("warning: skipped") == 2 and "XX:XX" in err
    assert lab_namespaces() == set()


@pytest.mark.kernel
def test_refused_rules_and_bad_packets_exit_1(tmp_path: Path) -> None:
    require_kernel()
    bad = tmp_path / "bad.txt"  # only the kernel knows which sets exist
    bad.write_text(RULES.replace("-j RETURN", "-m set --match-set nosuchset src -j RETURN"))
    status, _, err = run(str(bad), "--samples", "2")
    assert status == 1 and "the kernel refused" in err
    good = tmp_path / "good.txt"
    good.write_text(RULES)
    packets = tmp_path / "p.txt"
    packets.write_text("tcp 10.5.0.1:1000 -> 10.6.0.9:443 mark=0x1\n")
    status, _, err = run(str(good), "--packets", str(packets))
    assert status == 1 and "mark must be 0x0" in err
    assert lab_namespaces() == set()


@pytest.mark.kernel
def test_ctrl_c_leaves_no_namespace(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_kernel()
    sent = Lab.send
    calls = []

    def interrupted(self: Lab, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            assert lab_namespaces(), "the lab should be alive while it sends"
            raise KeyboardInterrupt
        return sent(self, *args, **kwargs)

    monkeypatch.setattr(Lab, "send", interrupted)
    status, _, err = run(str(rules), "--samples", "10")
    assert status == 130 and "interrupted" in err
    assert lab_namespaces() == set()


NAT = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
       ":POSTROUTING ACCEPT [0:0]\n"
       "-A PREROUTING -p tcp -m tcp --dport 22 -j DNAT --to-destination 10.6.0.9:443\n"
       "COMMIT\n")


@pytest.mark.kernel
@pytest.mark.parametrize("backend", ["legacy", "nft"])
def test_files_of_one_family_are_one_node(rules: Path, tmp_path: Path, backend: str) -> None:
    """A capture per table (`iptables-save -t nat > nat.txt`) is verified as one node, as
    `trace` reads it: the kernel gets every file in turn, in one lab, so a packet meets nat's
    DNAT and then filter's rules; a table in a later file replaces the earlier one in the
    kernel as in the model, and the note says so."""
    require_kernel(f"iptables-{backend}-restore")
    nat = tmp_path / "nat.txt"
    nat.write_text(NAT)
    later = tmp_path / "filter-again.txt"  # FORWARD's udp rule gone, web's RETURN a DROP
    later.write_text(RULES.replace("-A FORWARD -s 10.5.0.0/16 -p udp -j ACCEPT\n", "")
                     .replace("-j RETURN", "-j DROP"))
    packets = tmp_path / "packets.txt"
    packets.write_text("tcp 10.5.0.1:1000 -> 10.6.0.9:22 iif=eth3 oif=eth4\n"
                       "tcp 10.5.0.1:1000 -> 10.6.0.9:80 iif=eth3 oif=eth4\n"
                       "udp 10.5.0.1:1000 -> 10.7.0.9:53 iif=eth3 oif=eth4\n")
    common = ["--packets", str(packets), "--path", "forward", "--backend", backend, "--json"]
    status, out, err = run(str(rules), str(nat), *common)
    assert (status, err) == (0, ""), out
    (report,) = json.loads(out)["reports"]
    assert report["rules"] == f"{rules} {nat}"  # as the reproductions give the files
    dnat, dropped, udp = report["results"]
    # port 22 becomes 443 in nat PREROUTING, then filter's web accepts it
    assert dnat["kernel"]["hits"] == [  # (in the order of the kernel's listing)
        {"table": "filter", "chain": "FORWARD", "rule": 1, "count": 1},
        {"table": "filter", "chain": "web", "rule": 1, "count": 1},
        {"table": "nat", "chain": "PREROUTING", "rule": 1, "count": 1}]
    assert dnat["iptparse"]["verdict"] == "ACCEPT" and dropped["iptparse"]["verdict"] == "DROP"
    assert udp["iptparse"]["verdict"] == "ACCEPT"
    status, out, err = run(str(rules), str(nat), str(later), *common)
    assert status == 0, out + err
    assert err == (f"{later}:1:1: warning: table filter again: it replaces the one in {rules} "
                   "(line 1), as iptables-restore would read the files in turn; one node's "
                   "captures hold each table once\n*filter\n^\n")
    (report,) = json.loads(out)["reports"]
    assert report["packets"]["agree"] == 3
    dnat, dropped, udp = report["results"]
    assert dnat["iptparse"]["verdict"] == "ACCEPT"
    assert dropped["kernel"]["hits"][-1] == {"table": "filter", "chain": "web", "rule": 2,
                                             "count": 1}
    assert udp["kernel"]["hits"] == [] and udp["iptparse"]["verdict"] == "DROP"
    assert lab_namespaces() == set()


def test_files_of_two_families_are_not_one_node() -> None:
    """The library refuses what the command never does: it makes one lab per family."""
    six = RULES.replace("10.5.0.0/16", "2001:db8::/32").replace("10.6.0.0/24", "2001:db8::/64")
    with pytest.raises(ValueError, match=r"six.txt: ipv6 rules, where <rules> holds ipv4 rules"):
        verify_dump(RULES, more=[("six.txt", six)], samples=1)


@pytest.mark.kernel
def test_a_refused_node_still_says_what_its_files_replaced(rules: Path, tmp_path: Path) -> None:
    """The warnings come first, then the refusal, which names every file of the node."""
    require_kernel()
    again = tmp_path / "again.txt"
    again.write_text(RULES.replace("-j RETURN", "-m set --match-set nosuchset src -j RETURN"))
    status, out, err = run(str(rules), str(again), "--samples", "2")
    assert (status, out) == (1, "")
    warning, refusal = err.split("\n*filter\n^\n")
    assert warning.startswith(f"{again}:1:1: warning: table filter again: it replaces the one "
                              f"in {rules} (line 1)")
    assert refusal.startswith(f"iptparse verify: error: the kernel refused {rules} {again}: ")
    assert lab_namespaces() == set()
