"""Commands that move the walk: the packet, running and stepping, breakpoints, forks.

Each is registered with its pdb/gdb name and short aliases; the docstring's first line is the
usage `help` shows, the rest its help text.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..cli import _assumptions
from ..debug import Stepper, StopReason
from ..errors import IptparseError
from ..events import Finished
from ..fields import FIELDS, field_spec
from ..interp import PATHS
from ..packet import Packet, format_packet, packet_notes, parse_packet, parse_value
from .display import event_lines, stop_lines, verdict_lines
from .registry import CommandError, command, commands, lookup
from .shell import Shell, split_args

__all__ = ["report", "run_stepping"]


# --- showing where we stopped --------------------------------------------------------------

def report(shell: Shell, reason: StopReason) -> None:
    """Say why the walk stopped and show the event it stopped at."""
    out = shell.output
    stepper = shell.need_stepper()
    for line in stop_lines(out, reason):
        out.message(line)
    snap = stepper.current
    if snap is None:
        if reason.kind != "start":
            out.message("at the start of the walk")
        return
    event, state = snap
    if isinstance(event, Finished):
        text = None
        if state.decision is not None and state.decision[2]:
            text = shell.rule(*state.decision).text
        lines = verdict_lines(out, event.verdict, state, text)
    else:
        lines = event_lines(out, event, state)
    for line in lines:
        out.message(line)


@contextmanager
def _interruptible(stepper: Stepper) -> Iterator[None]:
    """Ctrl-C while the walk runs sets `stepper.interrupted`: the stepper stops at the next
    event, with its history intact, and the prompt comes back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        stepper.interrupted = True

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_stepping(shell: Shell, move: Callable[[Stepper], StopReason]) -> None:
    stepper = shell.need_stepper()
    if stepper.finished:
        report(shell, StopReason("finished"))
        shell.output.message("the walk is over: `run` or `restart` to walk again")
        return
    with _interruptible(stepper):
        reason = move(stepper)
    shell.frame = 0
    report(shell, reason)


# --- the packet ----------------------------------------------------------------------------

@command("packet", "pk")
def cmd_packet(shell: Shell, arg: str) -> None:
    """packet [SPEC]
    Set the whole packet and start its walk again (breakpoints stay), or show it. SPEC is
    what `iptparse trace --packet` takes: `tcp 10.13.76.26:40000 -> 10.13.76.19:8080
    iif=cali17b90f98476 ctstate=NEW mark=0x0`; fields left out are unknown and make the walk
    fork where a rule tests them."""
    if not arg:
        _show_packet(shell)
        return
    shell.set_packet(parse_packet(arg))
    for note in packet_notes(arg):
        shell.output.message(f"note: {note}")
    _show_packet(shell)


def _show_packet(shell: Shell) -> None:
    stepper = shell.need_stepper()
    shell.output.message(f"packet: {format_packet(stepper.packet) or '(any)'}")
    shell.output.message(f"path:   {stepper.path} ({' → '.join(PATHS[stepper.path])}), "
                         f"{stepper.family.value}")


@command("set")
def cmd_set(shell: Shell, arg: str) -> None:
    """set FIELD VALUE | set path in|forward|out
    Change one field of the packet (`set mark 0x4000`, `set dport 443`, `set src *` to make it
    unknown) or the path, and start the walk again."""
    words = arg.split(None, 1)
    if len(words) != 2:
        raise CommandError("usage: set FIELD VALUE (fields: " + ", ".join(FIELDS) + ")")
    name, value = words
    if name == "path":
        if value not in PATHS:
            raise CommandError(f"path is one of {', '.join(PATHS)}")
        shell.path = value
        if shell.stepper is not None:
            shell.set_packet(shell.stepper.packet)
            _show_packet(shell)
        return
    stepper = shell.need_stepper()
    try:
        spec = field_spec(name)
    except KeyError:
        raise CommandError(f"unknown field `{name}' (fields: {', '.join(FIELDS)})") from None
    packet = stepper.packet
    values = parse_value(spec, value, stepper.family)
    fields = dict(packet.fields)
    if values.is_all:
        fields.pop(spec.name, None)
    else:
        fields[spec.name] = values
    shell.set_packet(Packet(fields, packet.family, packet.id))
    _show_packet(shell)


# --- running -------------------------------------------------------------------------------

def _reset(shell: Shell) -> Stepper:
    stepper = shell.need_stepper()
    stepper.reset(assumptions=shell.assumptions)
    shell.frame = 0
    return stepper


@command("run", "r")
def cmd_run(shell: Shell, arg: str) -> None:
    """run
    Walk the packet from the start until a breakpoint, a fork or the verdict (as gdb's run);
    pinned assumptions take effect."""
    _reset(shell)
    run_stepping(shell, Stepper.cont)


@command("restart")
def cmd_restart(shell: Shell, arg: str) -> None:
    """restart
    Go back to before the first event (as pdb's restart); pinned assumptions take effect."""
    _reset(shell)
    report(shell, StopReason("start"))


@command("step", "s", repeat=True)
def cmd_step(shell: Shell, arg: str) -> None:
    """step
    To the next event, into jumps and gotos: a rule checked, a target applied, a chain
    entered or left, a table's end."""
    run_stepping(shell, Stepper.step)


@command("next", "n", repeat=True)
def cmd_next(shell: Shell, arg: str) -> None:
    """next
    To the next rule of this chain; a jump is walked through without stopping inside (unless a
    breakpoint is there)."""
    run_stepping(shell, Stepper.next)


@command("finish", "fin", repeat=True)
def cmd_finish(shell: Shell, arg: str) -> None:
    """finish
    Until the current chain returns to the chain that jumped to it (for a chain reached by -g,
    that is the last -j before it), or the table's traversal ends."""
    run_stepping(shell, Stepper.finish)


@command("continue", "c", "cont", repeat=True)
def cmd_continue(shell: Shell, arg: str) -> None:
    """continue
    Until a breakpoint, a fork or the verdict. Ctrl-C stops it and returns to the prompt."""
    run_stepping(shell, Stepper.cont)


@command("reverse-step", "rs", repeat=True)
def cmd_reverse_step(shell: Shell, arg: str) -> None:
    """reverse-step
    Back to the previous event (the walk is recorded: stepping forward again replays it)."""
    run_stepping_back(shell, Stepper.reverse_step)


@command("reverse-next", "rn", repeat=True)
def cmd_reverse_next(shell: Shell, arg: str) -> None:
    """reverse-next
    Back to the previous rule checked in this chain or an outer one."""
    run_stepping_back(shell, Stepper.reverse_next)


def run_stepping_back(shell: Shell, move: Callable[[Stepper], StopReason]) -> None:
    stepper = shell.need_stepper()
    reason = move(stepper)
    shell.frame = 0
    report(shell, reason)


# --- forks and assumptions -----------------------------------------------------------------

@command("choose", "ch")
def cmd_choose(shell: Shell, arg: str) -> None:
    """choose N
    At a fork, follow branch N (as listed when the walk stopped there) and step to its first
    event."""
    stepper = shell.need_stepper()
    fork = stepper.at_fork
    if fork is None:
        raise CommandError("not at a fork")
    if not arg.isdigit():
        raise CommandError(f"choose a branch number, 0 to {len(fork.options) - 1}")
    stepper.choose(int(arg))
    shell.output.message(f"following [{arg}] {fork.labels[int(arg)]}")
    if stepper.at_fork is fork:
        run_stepping(shell, Stepper.step)
    else:
        report(shell, StopReason("step"))


@command("assume")
def cmd_assume(shell: Shell, arg: str) -> None:
    """assume [KEY=VALUE | KEY]…
    Pin an assumption for the next `run`/`restart`: KEY is the name of what a rule depends on
    and no dump shows (`limit@filter:INPUT:3`, `match:comment@filter:FORWARD:1`; `info assumptions`
    lists those met so far; a rule's second match of a module is `limit#2@filter:INPUT:3`), or a
    kind alone (`limit`) for every rule of it that has no pin of its own; VALUE true or false
    (also hit/miss, under/over). `assume KEY` unpins; `assume` alone lists the pins."""
    out = shell.output
    if not arg:
        if not shell.assumptions:
            out.message("no assumption pinned")
        for key, value in shell.assumptions.items():
            out.message(f"{key}={'true' if value else 'false'}")
        return
    for word in split_args(arg):
        if "=" not in word:
            if shell.assumptions.pop(word, None) is None:
                raise CommandError(f"{word} is not pinned")
            out.message(f"unpinned {word}")
            continue
        try:
            shell.assumptions.update(_assumptions([word]))
        except IptparseError as exc:
            raise CommandError(str(exc).replace("--assume ", "")) from None
        key, _, text = word.partition("=")
        out.message(f"pinned {key}={text}: `run` or `restart` to use it")


# --- breakpoints ---------------------------------------------------------------------------

def _check_breakpoint(shell: Shell, spec: str) -> None:
    """Refuse a chain or rule the dump does not have, so a typo does not wait forever."""
    word = spec.split(None, 1)[0] if spec.split() else ""
    if word in ("if", "target", "text") or not spec:
        if word == "target":
            name = spec.split(None, 1)[1].strip() if len(spec.split()) > 1 else ""
            if name and name not in shell.index.targets and name not in shell.index.chains():
                raise CommandError(f"no rule of this dump has target {name}")
        return
    head, _, last = spec.rpartition(":")
    if head and last.isdigit():
        shell.resolve_rule(spec)
    else:
        shell.resolve_chain(spec)


def _add_breakpoint(shell: Shell, arg: str, temporary: bool) -> None:
    stepper = shell.need_stepper()
    if not arg:
        cmd_info_breakpoints(shell)
        return
    _check_breakpoint(shell, arg)
    bp = stepper.add_breakpoint(arg, temporary=temporary)
    kind = "Temporary breakpoint" if temporary else "Breakpoint"
    shell.output.message(f"{kind} {bp.number}: {bp.label}")


def cmd_info_breakpoints(shell: Shell) -> None:
    stepper = shell.need_stepper()
    if not stepper.breakpoints:
        shell.output.message("no breakpoints")
    for bp in stepper.breakpoints:
        shell.output.message(bp.describe())


@command("break", "b")
def cmd_break(shell: Shell, arg: str) -> None:
    """break [CHAIN | CHAIN:N | TABLE:CHAIN:N | target NAME | text "WORDS" | if CONDITION]
    Stop when the walk enters a chain, reaches a rule, applies a target (`break target
    DNAT`), checks a rule whose text has WORDS (`break text "Drop if"`), or when a condition on
    the packet becomes certain (`break if mark & 0x10000`, `break if dport == 8080`).
    Without argument, list the breakpoints."""
    _add_breakpoint(shell, arg, temporary=False)


@command("tbreak", "tb")
def cmd_tbreak(shell: Shell, arg: str) -> None:
    """tbreak SPEC
    A breakpoint deleted when first hit; SPEC as for `break`."""
    if not arg:
        raise CommandError("tbreak where? (as for break)")
    _add_breakpoint(shell, arg, temporary=True)


@command("clear", "cl", "delete")
def cmd_clear(shell: Shell, arg: str) -> None:
    """clear [N]
    Delete breakpoint N, or every breakpoint."""
    stepper = shell.need_stepper()
    if arg and not arg.isdigit():
        raise CommandError("clear takes a breakpoint number")
    count = stepper.delete_breakpoint(int(arg) if arg else None)
    if arg and not count:
        raise CommandError(f"no breakpoint {arg}")
    shell.output.message(f"deleted {count} breakpoint(s)")


# --- the session ---------------------------------------------------------------------------

@command("quit", "q", "exit")
def cmd_quit(shell: Shell, arg: str) -> None:
    """quit
    Leave the REPL (Ctrl-D does the same)."""
    shell.done = True


@command("help", "h", "?")
def cmd_help(shell: Shell, arg: str) -> None:
    """help [COMMAND]
    List the commands, or show one command's usage and help."""
    out = shell.output
    if arg:
        entry = lookup(arg)
        if entry is None:
            raise CommandError(f"no command `{arg}'")
        names = ", ".join((entry.name, *entry.aliases))
        out.message(f"{entry.usage}    ({names})")
        out.message(entry.help)
        return
    for entry in commands():
        aliases = f" ({', '.join(entry.aliases)})" if entry.aliases else ""
        out.message(f"  {entry.name + aliases:<30} {entry.summary}")
    out.message("An empty line repeats the last stepping command. `help COMMAND` for more.")
