"""Tab completion: command names, then each command's arguments (chains, sets, fields,
targets, breakpoint numbers, fork branches), from the dump the session has open."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from ..fields import FIELDS
from ..interp import PATHS
from .registry import lookup, names
from .shell import Shell

__all__ = ["ReplCompleter"]

INFO_TOPICS = ("chains", "sets", "breakpoints", "packet", "assumptions")


class ReplCompleter(Completer):
    """Completes the word under the cursor; words are separated by blanks only, since chain
    and set names hold `-`, `_`, `.` and `:`."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell

    def get_completions(self, document: Document, complete_event: CompleteEvent
                        ) -> Iterator[Completion]:
        text = document.text_before_cursor
        if text.count('"') % 2:
            return
        words = text.split()
        if not words or text[-1].isspace():
            words.append("")
        current = words[-1]
        if len(words) == 1:
            for name in names():
                if name.startswith(current):
                    entry = lookup(name)
                    meta = entry.summary if entry else ""
                    yield Completion(name, -len(current), display_meta=meta)
            return
        entry = lookup(words[0])
        if entry is None:
            return
        seen: set[str] = set()
        for candidate in self.arguments(entry.name, words[1:-1], current):
            if candidate.startswith(current) and candidate not in seen:
                seen.add(candidate)
                yield Completion(candidate, -len(current))

    def arguments(self, command: str, before: list[str], current: str) -> Iterable[str]:
        """Candidates for the next argument of `command`, after the words `before`."""
        shell = self.shell
        index = shell.index
        if command in ("break", "tbreak"):
            if not before:
                return ["target", "text", "if", *index.chains()]
            if before == ["target"]:
                return index.targets
            if before == ["if"]:
                return list(FIELDS)
            return []
        if command in ("list", "explain"):
            return [*(["all"] if command == "list" and not before else []), *index.chains()]
        if command == "print":
            if not before:
                return ["set", "rule", *FIELDS]
            if before == ["set"]:
                return index.set_names
            return []
        if command == "set":
            if not before:
                return ["path", *FIELDS]
            return list(PATHS) if before == ["path"] else []
        if command == "info":
            if not before:
                return INFO_TOPICS
            return index.chains() if before == ["chains"] else []
        if command == "help":
            return names() if not before else []
        if command == "packet":
            return [f"{name}=" for name in FIELDS] if "=" not in current else []
        if command == "assume":
            return [f"{key}=" for key in self._assumption_keys()] if "=" not in current else []
        if command == "choose":
            fork = shell.stepper.at_fork if shell.stepper else None
            return [str(i) for i in range(len(fork.options))] if fork and not before else []
        if command == "clear":
            stepper = shell.stepper
            return [str(b.number) for b in stepper.breakpoints] if stepper and not before else []
        return []

    def _assumption_keys(self) -> list[str]:
        stepper = self.shell.stepper
        if stepper is None:
            return list(self.shell.assumptions)
        keys = dict.fromkeys(self.shell.assumptions)
        conditions = list(stepper.state.conditions)
        fork = stepper.at_fork
        if fork is not None:
            for option in fork.options:
                conditions.extend(option.conditions)
        for cond in conditions:
            if cond.var.startswith("?"):
                keys[cond.var[1:]] = None
        return list(keys)
