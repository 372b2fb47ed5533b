"""Tab completion, checked the way prompt_toolkit calls it: a Document and a cursor."""

from __future__ import annotations

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from iptparse.repl.completer import ReplCompleter

from ._drive import shell

RULES_WITH_SETS = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:cali-tw-calid3b581beed8 - [0:0]
:cali-pi-_FSXf14qKl1ZqjRcvUXU - [0:0]
-A FORWARD -o calid3b581beed8 -g cali-tw-calid3b581beed8
-A cali-tw-calid3b581beed8 -j cali-pi-_FSXf14qKl1ZqjRcvUXU
-A cali-pi-_FSXf14qKl1ZqjRcvUXU -m set --match-set cali40s:d0vaXDV0OjdKq6czssWe9SI src -j ACCEPT
-A cali-pi-_FSXf14qKl1ZqjRcvUXU -j REJECT
-A FORWARD -m conntrack --ctstate INVALID -j DROP
COMMIT
"""


def complete(text: str, cursor: int | None = None, packet: str | None = None) -> list[str]:
    from ._drive import ruleset

    sh, _ = shell(packet or "tcp 10.0.0.1:1 -> 10.0.0.2:2 oif=calid3b581beed8",
                  ruleset(RULES_WITH_SETS))
    completer = ReplCompleter(sh)
    document = Document(text, len(text) if cursor is None else cursor)
    return [c.text for c in completer.get_completions(document, CompleteEvent())]


def test_command_names_and_aliases() -> None:
    assert complete("con") == ["cont", "continue"]
    assert complete("reverse-") == ["reverse-next", "reverse-step"]
    assert "break" in complete("") and "b" in complete("")


def test_chain_names_after_break_and_list() -> None:
    assert complete("break cali-p") == ["cali-pi-_FSXf14qKl1ZqjRcvUXU"]
    assert sorted(complete("b cali-")) == ["cali-pi-_FSXf14qKl1ZqjRcvUXU",
                                            "cali-tw-calid3b581beed8"]
    assert complete("list cali-t") == ["cali-tw-calid3b581beed8"]
    assert complete("tbreak FOR") == ["FORWARD"]


def test_break_keywords_targets_and_fields() -> None:
    assert complete("break t") == ["target", "text"]
    assert complete("break target RE") == ["RETURN", "REJECT"]
    assert complete("break if dp") == ["dport"]


def test_print_fields_and_set_names() -> None:
    assert complete("p ma") == ["mark"]
    assert complete("print set cali40") == ["cali40s:d0vaXDV0OjdKq6czssWe9SI"]
    assert complete("p ctst") == ["ctstate", "ctstatus"]


def test_cursor_in_the_middle_completes_the_word_before_it() -> None:
    text = "break cali-t  # comment"
    assert complete(text, cursor=len("break cali-t")) == ["cali-tw-calid3b581beed8"]


def test_other_arguments() -> None:
    assert complete("info b") == ["breakpoints"]
    assert complete("set pa") == ["path"]
    assert complete("set path f") == ["forward"]
    assert complete("help fini") == ["finish"]
    fields = complete("packet tcp 1.2.3.4 -> 5.6.7.8 ii")
    assert "iif=" in fields and all(f.startswith("ii") and f.endswith("=") for f in fields)
    assert complete('break text "Dro') == []  # inside quotes: free text
    assert complete("nosuchcommand x") == []


def test_breakpoint_numbers_and_fork_branches() -> None:
    from ._drive import ruleset

    sh, _ = shell("tcp 10.0.0.1:1 -> 10.0.0.2:2 oif=calid3b581beed8", ruleset(RULES_WITH_SETS))
    completer = ReplCompleter(sh)

    def words(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

    sh.execute("break FORWARD")
    sh.execute("break target REJECT")
    assert words("clear ") == ["1", "2"]
    assert words("choose ") == []
    sh.execute("continue")  # ctstate unknown: conntrack forks
    assert sh.need_stepper().at_fork is not None
    assert words("choose ") == ["0", "1"]
