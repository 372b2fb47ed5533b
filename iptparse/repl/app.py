"""Building the prompt and running the read-eval loop (pgcli's `_build_cli`, smaller).

Three ways in, one loop: a terminal gets a prompt_toolkit session (completion, history file,
colours, function keys); tests hand a pipe input and a DummyOutput to the same session; a
script piping commands in gets plain line reading and plain text out, and the exit status says
whether any command failed.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output as PtOutput

from ..packet import Packet, PacketError, parse_packet
from ..ruleset import Ruleset
from ..trace import TraceError
from . import commands as _commands  # noqa: F401  (registers the commands)
from . import views as _views  # noqa: F401
from .completer import ReplCompleter
from .keys import key_bindings
from .output import Output
from .shell import Shell
from .style import prompt_style

__all__ = ["build_session", "history_path", "main", "run_loop", "start"]


def history_path() -> Path:
    """$XDG_STATE_HOME/iptparse/history, or ~/.local/state/iptparse/history."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "iptparse" / "history"


def _file_history() -> History:
    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()  # a read-only home must not stop the debugger
    return FileHistory(str(path))


def build_session(shell: Shell, *, input: Input | None = None, output: PtOutput | None = None,
                  history: History | None = None) -> PromptSession[str]:
    """The prompt: where the walk is, Tab completion, history, function keys."""
    return PromptSession(
        message=lambda: FormattedText(shell.prompt_parts()),
        completer=ReplCompleter(shell),
        complete_while_typing=False,
        history=history if history is not None else _file_history(),
        key_bindings=key_bindings(),
        style=prompt_style(),
        include_default_pygments_style=False,
        input=input,
        output=output,
    )


def run_loop(shell: Shell, read: Callable[[], str]) -> None:
    """Read and run commands until `quit` or the end of input."""
    while not shell.done:
        try:
            line = read()
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt drops the line, as in a shell
        except EOFError:
            break
        shell.execute(line)


def _lines(stream: TextIO) -> Callable[[], str]:
    def read() -> str:
        line = stream.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    return read


def start(ruleset: Ruleset, out: TextIO, err: TextIO, *, packet: Packet | None = None,
          path: str = "forward", assumptions: Mapping[str, bool] | None = None,
          stdin: TextIO | None = None, color: bool | None = None, source: str = "",
          input: Input | None = None, output: PtOutput | None = None,
          history: History | None = None) -> int:
    """Run a session. With `input` (tests) or a terminal on stdin, through prompt_toolkit;
    else reading plain lines from `stdin`. Returns 1 when a scripted session had an error."""
    stdin = stdin if stdin is not None else _stdin()
    interactive = input is not None or (stdin.isatty() and out.isatty())
    if color is None:
        color = input is None and interactive and "NO_COLOR" not in os.environ
    shell = Shell(ruleset, Output(out, err, color=color), packet=packet, path=path,
                  assumptions=assumptions, source=source)
    if interactive:
        if input is None:
            _banner(shell)
        session = build_session(shell, input=input, output=output, history=history)
        run_loop(shell, session.prompt)
        return 0
    run_loop(shell, _lines(stdin))
    return 1 if shell.output.errors else 0


def _stdin() -> TextIO:
    import sys

    return sys.stdin


def _banner(shell: Shell) -> None:
    out = shell.output
    total = sum(len(c.rules) for chains in shell.index.tables.values() for c in chains)
    out.message(f"iptparse repl: {shell.source or 'rules'} ({total} rules, "
                f"{len(shell.index.sets)} sets)")
    if shell.stepper is not None:
        out.message(f"packet: {shell.stepper.packet}")
    out.message("`help` lists the commands; `break CHAIN` then `run`; Ctrl-D quits")


def main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`iptparse repl`: the seed scenario when no rules are given."""
    from ..cli import (
        _assumptions,
        load_from_args,
        packet_error,
        packet_without_rules,
        take_packet_given_last,
    )

    forgotten = packet_without_rules(args)
    if forgotten is not None:
        err.write(f"iptparse repl: error: {forgotten} (the seed scenario with this packet: "
                  f"iptparse repl --packet '{args.rules[0]}')\n")
        return 2
    given_last = take_packet_given_last(args)
    packet_text = args.packet
    if args.rules:
        ruleset = load_from_args(args, err)
        source = ", ".join(str(r) for r in args.rules)
    else:
        from .seed import DROPPED_PACKET, load_seed, seed_dir

        ruleset = load_seed()
        source = f"seed scenario ({seed_dir()})"
        packet_text = packet_text or DROPPED_PACKET
    color = {"always": True, "never": False}.get(args.color)
    try:
        packet = parse_packet(packet_text) if packet_text else None
    except PacketError as exc:
        err.write(f"iptparse repl: error: {packet_error(packet_text, exc, given_last)}\n")
        return 1
    try:
        return start(ruleset, out, err, packet=packet, path=args.path,
                     assumptions=_assumptions(args.assume), color=color, source=source)
    except (PacketError, TraceError) as exc:
        err.write(f"iptparse repl: error: {exc}\n")
        return 1
