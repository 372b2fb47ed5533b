"""`iptparse repl` from the command line, with commands piped in (how scripts use it)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .._cli import run_cli
from ._drive import RETURNED, RULES

ROOT = Path(__file__).resolve().parents[2]


class Stdin(io.StringIO):
    """Piped standard input: not a terminal."""

    def isatty(self) -> bool:
        return False


def run(argv: list[str], commands: str, monkeypatch: pytest.MonkeyPatch
        ) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", Stdin(commands))
    return run_cli(argv)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.txt"
    path.write_text(RULES)
    return path


def test_piped_commands_give_plain_text(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, err = run(["repl", str(rules), "--packet", RETURNED],
                           "break pi-policy\ncontinue\nwhere\n", monkeypatch)
    assert (status, err) == (0, "")
    assert "\x1b" not in out
    assert out.splitlines()[-2:] == ["  filter:tw-pod #2  -j pi-policy", "> filter:pi-policy #1"]


def test_an_error_in_a_script_sets_the_exit_status(rules: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, err = run(["repl", str(rules), "-p", RETURNED], "nonsense\ncontinue\n",
                           monkeypatch)
    assert status == 1
    assert err == "*** unknown command `nonsense' (try `help')\n"
    assert "verdict: DROP" in out


def test_path_and_assume_options(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, _ = run(["repl", str(rules), "-p", RETURNED, "--path", "in", "--assume",
                          "x@filter:INPUT:1=true"], "packet\nassume\ncontinue\n", monkeypatch)
    assert status == 0
    assert "path:   in (PREROUTING → routing → INPUT)" in out
    assert "x@filter:INPUT:1=true" in out
    assert "verdict: ACCEPT by the policy of filter:INPUT" in out


def test_without_rules_it_opens_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, err = run(["repl"], "packet\ninfo sets\n", monkeypatch)
    assert (status, err) == (0, "")
    assert out.startswith("packet: tcp 10.13.76.26:40000 -> 10.13.76.19:8080")
    assert "cali40s:d0vaXDV0OjdKq6czssWe9SI" in out


def test_bad_packet_is_a_one_line_error(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    status, _, err = run(["repl", str(rules), "-p", "tcp 1.2.3.4 -> 1.2.3"], "", monkeypatch)
    assert status == 1
    assert err.startswith("iptparse repl: error:") and err.count("\n") == 1


def test_the_packet_may_come_last(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As for trace: after the files, or after the options; a name of no file that is no packet
    is said as both."""
    given = run(["repl", str(rules), "-p", RETURNED, "--path", "in"], "c\n", monkeypatch)
    assert given[0] == 0 and "verdict:" in given[1]
    assert run(["repl", str(rules), RETURNED, "--path", "in"], "c\n", monkeypatch) == given
    assert run(["repl", str(rules), "--path", "in", RETURNED], "c\n", monkeypatch) == given
    status, out, err = run(["repl", str(rules), "rules2.txt"], "", monkeypatch)
    assert (status, out) == (1, "")
    assert err.startswith("iptparse repl: error: rules2.txt: no such file, nor a packet (")



def test_a_packet_without_rules_is_not_read_as_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """`iptparse repl 'tcp …'`: neither "no such file" nor the seed scenario in silence; the
    message says how to step that packet through the seed."""
    status, out, err = run(["repl", RETURNED], "", monkeypatch)
    assert (status, out) == (2, "")
    assert err == (f"iptparse repl: error: `{RETURNED}' reads as a packet, but no rules file was "
                   f"given: iptparse repl RULES… '{RETURNED}' (the seed scenario with this "
                   f"packet: iptparse repl --packet '{RETURNED}')\n")

def test_as_a_program(rules: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_STATE_HOME=str(tmp_path / "state"))
    done = subprocess.run([sys.executable, "-m", "iptparse.cli", "repl", str(rules), "-p",
                           RETURNED], input="c\n", capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "verdict: DROP by the policy of filter:FORWARD"
    assert not (tmp_path / "state").exists()  # no history file without a terminal


def test_lenient_loads_a_pasted_dump(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pasted = tmp_path / "pasted.txt"
    pasted.write_text("root@node:~# iptables-save\n" + RULES)
    status, _, err = run(["repl", str(pasted), "-p", RETURNED], "c\n", monkeypatch)
    assert status == 1 and f"{pasted}:1:1: error:" in err
    status, out, err = run(["repl", str(pasted), "-p", RETURNED, "--lenient"], "c\n",
                           monkeypatch)
    assert status == 0
    assert err.startswith(f"{pasted}:1:1: warning: skipped: a shell prompt and command pasted "
                          "with the dump")
    assert out.strip() == "verdict: DROP by the policy of filter:FORWARD"


def test_info_routes_shows_the_rules_and_sysctls(rules: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    routes = tmp_path / "routes"
    routes.write_text("0:\tfrom all lookup local\n100:\tfrom all fwmark 0x1 lookup 100\n"
                      "32766:\tfrom all lookup main\ndefault via 10.0.0.1 dev eth0\n"
                      "local default dev lo table 100\n10.9.0.0/16 proto bird\n"
                      "\tnexthop via 10.0.0.2 dev eth0 weight 1\n"
                      "\tnexthop via 10.0.1.2 dev eth1 weight 2 dead linkdown\n")
    sysctl = tmp_path / "sysctl"
    sysctl.write_text("net.ipv4.conf.all.rp_filter = 2\nnet.ipv4.conf.eth1.rp_filter = 1\n"
                      "net.ipv4.conf.eth1.forwarding = 0\n")
    status, out, err = run(["repl", str(rules), "--routes", str(routes), "--sysctl",
                            str(sysctl), "--packet", RETURNED], "info routes\n", monkeypatch)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[lines.index("routing rules, ipv4") + 2] == "  100:\tfrom all fwmark 0x1 lookup 100"
    assert lines[lines.index("table 100: 1 route(s)") + 1] == "  local default dev lo table 100"
    assert lines[lines.index("table main: 2 route(s)") + 1] == (  # a dead nexthop shown
        "  10.9.0.0/16 nexthop via 10.0.0.2 dev eth0 nexthop via 10.0.1.2 dev eth1 weight 2 dead")
    assert ("  eth1             forwarding 0  rp_filter 2  accept_local 1  src_valid_mark 0  "
            "send_redirects 1  route_localnet 0") in lines


def test_info_routes_says_what_was_not_captured(rules: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    sysctl = tmp_path / "sysctl"
    sysctl.write_text("net.ipv4.conf.all.rp_filter = 0\n")
    status, out, err = run(["repl", str(rules), "--sysctl", str(sysctl), "--packet", RETURNED],
                           "info routes\n", monkeypatch)
    assert (status, err) == (0, "")
    assert ("table main: 0 route(s) (the addresses' subnets; the rest not captured: a packet "
            "leaves by the interface it names)") in out
    assert "addresses: 0 (not captured: a packet is for this host as the path asked says)" in out
    assert "bridged packets" not in out  # no bridge keys captured: nothing to say


def test_info_routes_shows_who_calls_the_tables_for_bridged_packets(
        rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sysctl = tmp_path / "sysctl"
    sysctl.write_text("net.bridge.bridge-nf-call-iptables = 0\n")
    addrs = tmp_path / "addrs"
    addrs.write_text("2: br0: <UP> mtu 1500\n    bridge nf_call_iptables 1 nf_call_ip6tables 0\n"
                     "    inet 10.0.0.254/24 scope global br0\n")
    status, out, err = run(["repl", str(rules), "--sysctl", str(sysctl), "--addrs", str(addrs),
                            "--packet", RETURNED], "info routes\n", monkeypatch)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[lines.index("bridged packets and the iptables tables (br_netfilter)") + 1] == (
        "  sysctl bridge-nf-call-iptables 0: not called, but for br0, whose own "
        "nf_call_iptables is on")
