"""The REPL driven through a real prompt_toolkit session on a pipe (the way a user types)."""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from iptparse.debug import Stepper
from iptparse.parser import parse_iptables
from iptparse.repl import Shell
from iptparse.repl.output import Output
from iptparse.ruleset import Ruleset

from ._drive import ACCEPTED, RETURNED, drive, shell

PROMPT = re.compile(r"filter:[\w.-]+#(\d+|end)")


def test_break_continue_where_shows_the_chain_stack_with_gotos() -> None:
    s = drive(["break pi-policy", "continue", "where"])
    assert "Breakpoint 1: chain pi-policy" in s.out
    assert "Breakpoint 1 (chain pi-policy)" in s.out
    assert "→ filter:pi-policy  (from tw-pod #2, -j, returns here)" in s.out
    stack = s.out.split("returns here)\n", 1)[1].splitlines()
    assert stack == [
        "  filter:FORWARD #2  -j to-dispatch",
        "  filter:to-dispatch #1  -g to-dispatch-d  (goto: no return point)",
        "  filter:to-dispatch-d #1  -g tw-pod  (goto: no return point)",
        "  filter:tw-pod #2  -j pi-policy",
        "> filter:pi-policy #1",
    ]
    assert s.err == "" and s.status == 0


def test_finish_returns_past_the_gotos_to_the_last_jump() -> None:
    s = drive(["break tw-pod", "continue", "finish", "where"])
    # tw-pod was reached by -g twice: its end returns to FORWARD, after the -j of rule 2
    assert "← RETURN from tw-pod: back in filter:FORWARD after #2" in s.out
    assert s.out.rstrip().endswith("> filter:FORWARD #3  (hook)")


def test_finish_from_a_called_chain_stops_in_its_caller() -> None:
    s = drive(["break pi-policy", "continue", "finish"])
    assert s.out.rstrip().endswith("← RETURN from pi-policy: back in filter:tw-pod after #2")


def test_continue_to_the_verdict_and_reverse_step_returns_to_the_previous_event() -> None:
    sh, out = shell(RETURNED)
    sh.execute("continue")
    assert "verdict: DROP by the policy of filter:FORWARD" in out.getvalue()
    assert sh.prompt_text() == "(DROP)> "
    sh.execute("reverse-step")
    assert out.getvalue().rstrip().endswith("filter:FORWARD policy DROP")
    sh.execute("rs")
    assert out.getvalue().rstrip().endswith("filter:FORWARD #3 ✗ no match (-p udp)")
    assert sh.prompt_text() == "filter:FORWARD#3> "
    # stepping forward again replays the record
    sh.execute("step")
    assert out.getvalue().rstrip().endswith("filter:FORWARD policy DROP")


def test_accept_names_the_rule_that_decided() -> None:
    s = drive(["continue"], ACCEPTED)
    assert "verdict: ACCEPT by filter:pi-policy #1" in s.out
    assert "-A pi-policy -s 192.168.0.0/16 -p tcp -m tcp --dport 8080 -j ACCEPT" in s.out


def test_empty_line_repeats_the_last_stepping_command() -> None:
    sh, _ = shell()
    sh.execute("step")
    first = sh.need_stepper().cursor
    sh.execute("")
    sh.execute("")
    assert sh.need_stepper().cursor == first + 2
    sh.execute("where")  # not a stepping command: an empty line still repeats `step`
    sh.execute("")
    assert sh.need_stepper().cursor == first + 3


def test_next_walks_over_a_jump() -> None:
    sh, _ = shell()
    sh.execute("break tw-pod")
    sh.execute("continue")
    sh.execute("next")  # tw-pod #1 (dport 22) does not match
    assert sh.prompt_text() == "filter:tw-pod#1> "
    sh.execute("next")  # #2 jumps to pi-policy: stops at the jump's rule
    assert sh.prompt_text() == "filter:tw-pod#2> "
    sh.execute("next")  # runs pi-policy through, back in tw-pod
    assert "pi-policy" not in sh.prompt_text()
    assert sh.where() is not None and sh.where().chain == "tw-pod"  # type: ignore[union-attr]


def test_up_down_move_the_frame_list_shows() -> None:
    sh, out = shell()
    sh.execute("break pi-policy")
    sh.execute("continue")
    sh.execute("up")
    assert out.getvalue().rstrip().endswith("frame 1: filter:tw-pod #2")
    sh.execute("list")
    listing = out.getvalue().split("frame 1: filter:tw-pod #2\n", 1)[1].splitlines()
    assert listing[0] == "filter:tw-pod (4 rules, user chain)"
    # rule 1 failed on its second condition (dport), rule 2 matched (no condition) and jumped
    assert listing[1].startswith("     1 ✗ ✓✗  -A tw-pod -p tcp -m tcp --dport 22 -j DROP")
    assert listing[2].startswith("->   2 ✓   -A tw-pod -j pi-policy")
    assert listing[3].startswith("     3 · ·  -A tw-pod -s 10.0.0.0/8 -j RETURN")
    sh.execute("down")
    sh.execute("down")
    assert "newest frame" in out.getvalue() or sh.output.errors == 1


def test_list_marks_each_condition() -> None:
    sh, out = shell()
    sh.execute("break pi-policy")
    sh.execute("continue")
    sh.execute("next")
    sh.execute("list")
    text = out.getvalue()
    # pi-policy #1: -s fails first, so -p and --dport were never checked
    assert "     1 ✗ ✗··  -A pi-policy -s 192.168.0.0/16" in text or (
        "->   1 ✗ ✗··  -A pi-policy -s 192.168.0.0/16" in text)


def test_explain_says_why_each_condition_held_or_not() -> None:
    sh, out = shell()
    sh.execute("break pi-policy")
    sh.execute("continue")
    sh.execute("step")
    sh.execute("explain")
    text = out.getvalue()
    assert "filter:pi-policy #1 (line 20): did not match" in text
    assert "✗ -s 192.168.0.0/16  —  src 10.1.2.3 ∉ 192.168.0.0/16" in text
    assert "· -p tcp  —  not checked: an earlier condition failed" in text
    sh.execute("explain 2")  # not checked yet: decided on the packet as it is now
    assert "filter:pi-policy #2 (line 21): not checked yet" in out.getvalue()
    assert "✓ -s 10.1.0.0/16  —  src 10.1.2.3 ∈ 10.1.0.0/16" in out.getvalue()


def test_print_field_and_rule() -> None:
    sh, out = shell()
    sh.execute("p dport")
    sh.execute("p sport")
    sh.execute("p tw-pod:3")
    sh.execute("print rule filter:FORWARD:1")
    sh.execute("p ttl")
    lines = out.getvalue().splitlines()
    assert lines[0] == "dport = 8080"
    assert lines[1] == "sport = 4000"
    assert lines[2] == "filter:tw-pod #3  (line 18)"
    assert lines[3] == "    -A tw-pod -s 10.0.0.0/8 -j RETURN"
    assert lines[4] == "filter:FORWARD #1  (line 9)"
    assert lines[6].startswith("ttl: unknown")


def test_breakpoint_kinds_and_clear() -> None:
    sh, out = shell(ACCEPTED)
    sh.execute("break target ACCEPT")
    sh.execute('tbreak text "-o podd1"')
    sh.execute("break tw-pod:2")
    sh.execute("info breakpoints")
    assert "Breakpoint 1: target ACCEPT" in out.getvalue()
    assert '2: temporary text "-o podd1" (hit 0 time(s))' in out.getvalue()
    sh.execute("continue")
    assert out.getvalue().splitlines()[-2:] == [
        'Breakpoint 2 (text "-o podd1")',
        "filter:to-dispatch-d #1 ✓ matched:  -A to-dispatch-d -o podd1 -g tw-pod"]
    sh.execute("continue")
    assert out.getvalue().splitlines()[-2] == "Breakpoint 3 (rule tw-pod:2)"
    sh.execute("continue")
    assert out.getvalue().splitlines()[-2] == "Breakpoint 1 (target ACCEPT)"
    sh.execute("clear 3")
    sh.execute("break")
    listed = out.getvalue().rsplit("deleted 1 breakpoint(s)\n", 1)[1]
    assert listed == "1: target ACCEPT (hit 1 time(s))\n"  # the temporary one went when hit
    sh.execute("clear")
    assert out.getvalue().splitlines()[-1] == "deleted 1 breakpoint(s)"
    sh.execute("clear 9")
    assert out.getvalue().splitlines()[-1] == "*** no breakpoint 9"


def test_break_if_condition_stops_where_it_becomes_certain() -> None:
    sh, out = shell("tcp 10.1.2.3:4000 -> 10.9.9.9:8080 iif=eth0 oif=podd1")
    # ctstate unknown: the conntrack stage forks; choosing NEW makes the condition certain
    sh.execute("break if ctstate == NEW")
    sh.execute("continue")
    assert "fork at conntrack (PREROUTING)" in out.getvalue()
    assert "  [0] ctstate = NEW" in out.getvalue()
    sh.execute("choose 0")
    assert "following [0] ctstate = NEW" in out.getvalue()
    assert "Breakpoint 1 (if ctstate == NEW)" in out.getvalue()


def test_choose_follows_another_branch() -> None:
    sh, out = shell("tcp 10.1.2.3:4000 -> 10.9.9.9:8080 iif=eth0 oif=podd1")
    sh.execute("continue")
    sh.execute("choose 1")
    sh.execute("info packet")
    assert "following [1] ctstate ≠ NEW" in out.getvalue()
    sh.execute("p ctstate")
    assert out.getvalue().splitlines()[-1] == "ctstate ≠ NEW"
    sh.execute("choose 0")
    assert out.getvalue().splitlines()[-1] == "*** not at a fork"


def test_assume_pins_for_the_next_run() -> None:
    rules = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m weird --thing 1 -j ACCEPT
COMMIT
"""
    from ._drive import ruleset

    sh, out = shell(RETURNED, ruleset(rules))
    sh.execute("continue")
    assert "fork at filter:FORWARD #1" in out.getvalue()
    sh.execute("info assumptions")
    key = "match:weird@filter:FORWARD:1"
    assert f"  {key}: -m weird --thing 1 holds" in out.getvalue()
    sh.execute(f"assume {key}=false")
    assert f"pinned {key}=false" in out.getvalue()
    sh.execute("run")
    assert "verdict: DROP by the policy of filter:FORWARD" in out.getvalue()
    sh.execute("explain FORWARD:1")
    assert "(assumed: match:weird@filter:FORWARD:1)" in out.getvalue()
    sh.execute(f"assume {key}")
    sh.execute("assume")
    assert out.getvalue().splitlines()[-1] == "no assumption pinned"


def test_packet_and_set_restart_the_walk_and_keep_breakpoints() -> None:
    sh, out = shell()
    sh.execute("break tw-pod")
    sh.execute("continue")
    sh.execute("set dport 22")
    assert "packet: tcp 10.1.2.3:4000 -> 10.9.9.9:22" in out.getvalue()
    assert sh.prompt_text() == "(start)> "
    sh.execute("continue")
    sh.execute("continue")
    assert "verdict: DROP by filter:tw-pod #1" in out.getvalue()
    sh.execute(f"packet {ACCEPTED}")
    sh.execute("continue")
    sh.execute("continue")
    assert out.getvalue().count("Breakpoint 1 (chain tw-pod)") == 3
    assert "verdict: ACCEPT by filter:pi-policy #1" in out.getvalue()
    sh.execute("set path out")
    assert "path:   out (routing → OUTPUT → POSTROUTING)" in out.getvalue()


def test_bad_commands_get_one_line_errors_and_the_repl_goes_on() -> None:
    s = drive(["frobnicate", "break no-such-chain", "p nofield", "choose 1", "list 1 x:y:z",
               "set mark zz", "packet tcp 1.2.3.4 -> nowhere", "continue"])
    errors = s.err.splitlines()
    assert errors[0] == "*** unknown command `frobnicate' (try `help')"
    assert errors[1] == "*** no chain named no-such-chain"
    assert errors[2].startswith("*** unknown field `nofield'")
    assert errors[3] == "*** not at a fork"
    assert len(errors) == 7
    assert "verdict: DROP" in s.out


def test_packet_notes_a_port_read_as_part_of_an_ipv6_address() -> None:
    v6 = Ruleset([parse_iptables("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
                                 ":OUTPUT ACCEPT [0:0]\n-A FORWARD -s 2001:db8::/32 -j DROP\n"
                                 "COMMIT\n")])
    s = drive(["packet tcp 2001:db8::1 -> 2001:db8::2:22", "continue"], packet=None, rules=v6)
    assert ("note: `2001:db8::2:22' is read as one IPv6 address; for port 22 write "
            "[2001:db8::2]:22") in s.out
    assert "verdict: DROP by filter:FORWARD #1" in s.out


def test_no_packet_yet() -> None:
    s = drive(["step", "packet " + ACCEPTED, "c"], packet=None)
    assert s.err.startswith("*** no packet yet")
    assert "verdict: ACCEPT" in s.out


def test_ctrl_c_stops_a_running_continue(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGINT while the walk runs: the stepper stops at the next event, history intact."""
    calls = {"n": 0}
    advance = Stepper._advance

    def advance_and_interrupt(self: Stepper) -> object:
        calls["n"] += 1
        if calls["n"] == 4:
            signal.raise_signal(signal.SIGINT)
        return advance(self)

    monkeypatch.setattr(Stepper, "_advance", advance_and_interrupt)
    sh, out = shell()
    # what the process had before (a background job of a non-interactive shell starts with
    # SIGINT ignored, a terminal's with Python's default): put back as it was
    before = signal.getsignal(signal.SIGINT)
    sh.execute("continue")
    assert "interrupted" in out.getvalue().splitlines()
    assert sh.need_stepper().cursor == 3  # stopped after the event it was computing
    assert signal.getsignal(signal.SIGINT) is before
    sh.execute("continue")
    assert "verdict: DROP by the policy of filter:FORWARD" in out.getvalue()


def test_help_for_every_command() -> None:
    from iptparse.repl.registry import commands

    sh, out = shell()
    for entry in commands():
        assert entry.usage.split()[0] == entry.name, entry.name
        assert len(entry.help) > 20, entry.name
        sh.execute(f"help {entry.name}")
        for alias in entry.aliases:
            sh.execute(f"help {alias}")
    assert sh.output.errors == 0
    sh.execute("help")
    listing = out.getvalue()
    for name in ("step (s)", "next (n)", "finish (fin)", "continue (c, cont)", "break (b)",
                 "where (w, bt, backtrace)", "up (u)", "down (d)", "list (l)", "print (p)",
                 "quit (q, exit)", "clear (cl, delete)", "reverse-step (rs)",
                 "reverse-next (rn)"):
        assert f"  {name} " in listing, name


def test_prompt_follows_the_walk() -> None:
    sh, _ = shell()
    assert sh.prompt_text() == "(start)> "
    sh.execute("break to-dispatch")
    sh.execute("c")
    assert sh.prompt_text() == "filter:to-dispatch#1> "
    assert PROMPT.match(sh.prompt_text())
    sh.execute("s")
    assert sh.prompt_text() == "filter:to-dispatch#1> "
    sh.execute("s")
    assert sh.prompt_text() == "filter:to-dispatch-d#1> "


def test_info_chains_and_packet() -> None:
    sh, out = shell()
    sh.execute("info chains to-*")
    assert out.getvalue().splitlines() == [
        "*filter",
        "  to-dispatch                                   2 rule(s)",
        "  to-dispatch-d                                 2 rule(s)",
    ]
    sh.execute("info packet")
    assert "packet: tcp 10.1.2.3:4000 -> 10.9.9.9:8080 iif=eth0 oif=podd1 ctstate=NEW" in (
        out.getvalue())
    sh.execute("info sets")
    assert out.getvalue().splitlines()[-1] == "no ipsets (give them with --ipset FILE)"
    sh.execute("info routes")
    assert out.getvalue().splitlines()[-1] == (
        "no routes (give them with --routes FILE and --addrs FILE)")
    sh.execute("info nonsense")
    assert out.getvalue().splitlines()[-1].startswith("*** info chains | sets")


def test_explain_at_a_fork_shows_the_undecided_condition() -> None:
    sh, out = shell("tcp 10.1.2.3:4000 -> 10.9.9.9:8080 iif=eth0 oif=podd1 ctstate=NEW")
    sh.execute("set src 10.0.0.0/8")
    sh.execute("break pi-policy")
    sh.execute("continue")
    sh.execute("next")  # rule 1: src 192.168/16 cannot hold inside 10/8
    sh.execute("next")  # rule 2: src 10.1/16 may or may not: a fork
    assert "fork at filter:pi-policy #2" in out.getvalue()
    sh.execute("explain")
    text = out.getvalue()
    assert "filter:pi-policy #2 (line 21): not checked yet" in text
    assert "? -s 10.1.0.0/16  —  src (∈ 10.0.0.0/8) ∈ 10.1.0.0/16?" in text


def test_a_rule_that_fails_whichever_way_is_stepped_over_without_a_fork() -> None:
    sh, out = shell("tcp 10.1.2.3:4000 -> 10.9.9.9:9090 iif=eth0 oif=podd1 ctstate=NEW")
    sh.execute("set src 128.0.0.0/1")  # 192.168/16 inside or not: --dport 8080 fails anyway
    sh.execute("break pi-policy")
    sh.execute("continue")
    sh.execute("next")
    text = out.getvalue()
    assert "fork" not in text
    assert "filter:pi-policy #1 ✗ no match, whichever way `-s 192.168.0.0/16' goes" in text
    sh.execute("explain")
    text = out.getvalue()
    assert "? -s 192.168.0.0/16  —  src (∈ 128.0.0.0/1) ∈ 192.168.0.0/16?" in text
    assert "✓ -p tcp  —  proto tcp = tcp" in text  # decided on the path as it is
    assert "✗ -m tcp --dport 8080  —  fragment 0 = 0; dport 9090 ≠ 8080" in text
    sh.execute("list")
    assert "1 ✗ ?··  -A pi-policy -s 192.168.0.0/16" in out.getvalue()


def test_a_shell_made_through_the_package_alone_knows_every_command() -> None:
    """`iptparse.repl.Shell` is the library's way in; its commands register when their
    modules load, which only the interactive front end did."""
    program = (
        "import io\n"
        "from iptparse.parser import parse_iptables\n"
        "from iptparse.repl import Shell\n"
        "from iptparse.repl.output import Output\n"
        "from iptparse.ruleset import Ruleset\n"
        "rules = '*filter\\n:INPUT DROP [0:0]\\n-A INPUT -p tcp -j ACCEPT\\nCOMMIT\\n'\n"
        "out = io.StringIO()\n"
        "shell = Shell(Ruleset([parse_iptables(rules)]), Output(out), path='in')\n"
        "shell.execute('packet tcp 10.0.0.1:1 -> 10.0.0.2:22')\n"
        "shell.execute('continue')\n"
        "print(out.getvalue())\n"
    )
    root = Path(__file__).resolve().parents[2]  # the checkout, whether installed or not
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=True, timeout=60, cwd=root)
    assert "unknown command" not in done.stdout
    assert "ACCEPT" in done.stdout


def test_a_ttl_drop_is_the_stacks_verdict_not_a_rules() -> None:
    """FORWARD's packet expires before the FORWARD hook: the verdict line names no rule of
    the tables it went through (PREROUTING accepted it)."""
    rules = "*filter\n:FORWARD DROP [0:0]\nCOMMIT\n*raw\n:PREROUTING ACCEPT [0:0]\n" \
            "-A PREROUTING -p tcp -j ACCEPT\nCOMMIT\n"
    out = io.StringIO()
    sh = Shell(Ruleset([parse_iptables(rules)]), Output(out), path="forward")
    sh.execute("packet tcp 10.0.0.1:1 -> 10.0.0.2:22 ttl=1 iif=eth0 oif=eth1")
    sh.execute("continue")
    assert "verdict: DROP by forwarding (the TTL expires: ICMP time exceeded)" in out.getvalue()
    assert "verdict: DROP by raw" not in out.getvalue()


SCAN_RULES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p tcp -m tcp --dport 23 -j SET --add-set scan src
-A FORWARD -m set --match-set scan src -j DROP
COMMIT
"""


def test_a_set_changed_on_the_path_is_shown_as_the_walk_sees_it() -> None:
    """After SET --add-set, `p set` counts the path's members and says why, and `explain`
    reads the next rule's lookup in the changed set, as the walk does."""
    from iptparse.ipset import parse_ipset

    sets = {s.name: s for s in parse_ipset("create scan hash:ip family inet\n")}
    rules = Ruleset([parse_iptables(SCAN_RULES)], sets=sets)
    s = drive(["break FORWARD", "continue", "p set scan", "next", "next", "p set scan",
               "explain", "continue"], "tcp 10.0.0.1:1 -> 10.0.0.2:23 iif=eth0 oif=eth1",
              rules=rules)
    assert s.err == ""
    before, after = s.out.split("scan: hash:ip, ")[1:3]
    assert before.startswith("0 member(s)") and "changed on this path" not in before
    assert after.startswith("1 member(s)\n  changed on this path by a SET target")
    assert "✓ -m set --match-set scan src  —  src 10.0.0.1 ∈ scan (1 member)" in after
    assert "verdict: DROP by filter:FORWARD #2" in s.out


def test_a_set_and_a_rule_print_before_any_packet() -> None:
    """Without a packet there is no path: the captured set and rule, and no traceback."""
    from iptparse.ipset import parse_ipset

    sets = {s.name: s for s in parse_ipset("create scan hash:ip family inet\nadd scan 10.9.9.9\n")}
    rules = Ruleset([parse_iptables(SCAN_RULES)], sets=sets)
    s = drive(["p set scan", "p filter:FORWARD:2"], None, rules=rules)
    assert s.err == ""
    assert "scan: hash:ip, 1 member(s)\n  (used by filter:FORWARD #2)\n" in s.out
    assert "-A FORWARD -m set --match-set scan src -j DROP" in s.out
