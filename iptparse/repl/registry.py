"""The command registry: names, one-letter aliases and help taken from docstrings.

Like litecli's `@special_command` and pdb's `do_*` methods: a command is a function
`fn(shell, arg)` whose docstring's first line is its usage and the rest its help. `repeat`
marks the commands an empty line repeats (the stepping ones, as in pdb and gdb).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .shell import Shell

__all__ = ["Command", "CommandError", "command", "commands", "lookup"]

Handler = Callable[["Shell", str], None]


class CommandError(Exception):
    """A command the user typed cannot run; the message is shown on one line."""


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    handler: Handler
    repeat: bool

    @property
    def usage(self) -> str:
        return self._doc()[0]

    @property
    def help(self) -> str:
        return self._doc()[1]

    @property
    def summary(self) -> str:
        """The first sentence of the help text."""
        text = " ".join(self.help.split()).split(". ")[0].rstrip(".")
        return text if len(text) <= 72 else text[:71].rstrip(" ,:;") + "…"

    def _doc(self) -> tuple[str, str]:
        doc = inspect.getdoc(self.handler) or ""
        usage, _, rest = doc.partition("\n")
        return usage.strip(), rest.strip()


_COMMANDS: dict[str, Command] = {}
_NAMES: dict[str, Command] = {}


def command(name: str, *aliases: str, repeat: bool = False) -> Callable[[Handler], Handler]:
    """Register `fn` under `name` and its aliases."""

    def register(fn: Handler) -> Handler:
        entry = Command(name, aliases, fn, repeat)
        for key in (name, *aliases):
            if key in _NAMES:
                raise RuntimeError(f"command name {key!r} registered twice")
            _NAMES[key] = entry
        _COMMANDS[name] = entry
        return fn

    return register


def lookup(name: str) -> Command | None:
    return _NAMES.get(name)


def commands() -> Iterator[Command]:
    """Every command, in the order they were registered."""
    return iter(_COMMANDS.values())


def names() -> list[str]:
    """Every name and alias a user may type."""
    return sorted(_NAMES)
