"""iptables' own quoting: how a restore line splits into arguments, and how save quotes them.

Both follow iptables exactly (xshared.c `add_param_to_argv`, libxtables `xtables_save_string`),
because round-tripping a dump byte for byte depends on it: a double quote may open a quoted run
in the middle of a word, and the closing quote ends the word (`a"b"c` is `ab` then `c`); a
backslash inside quotes takes the next character literally; outside quotes a backslash is an
ordinary character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Arg", "save_string", "split_args"]

# A word: unquoted characters, optionally followed by one quoted run that ends it; the grammar's
# ARG terminal is the same.
_WORD = re.compile(r'[^\s"]+(?:"(?:[^"\\]|\\.)*")?|"(?:[^"\\]|\\.)*"')
_UNQUOTE = re.compile(r'"((?:[^"\\]|\\.)*)"')
_UNESCAPE = re.compile(r"\\(.)")
_SAFE = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument: its value after unquoting, where it starts, and whether it had quotes."""

    value: str
    column: int  # 1-based, in the line
    quoted: bool = False
    raw: str = ""



def _unquote(word: str) -> str:
    return _UNQUOTE.sub(lambda m: _UNESCAPE.sub(r"\1", m.group(1)), word)


def split_args(text: str, start_column: int = 1) -> list[Arg]:
    """Split like iptables-restore does. A quote that never closes runs to the end of the
    line, as in iptables (`--comment "abc def` is the comment `abc def`)."""
    args: list[Arg] = []
    pos = 0
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch in " \t\r\n\f\v":
            pos += 1
            continue
        m = _WORD.match(text, pos)
        if m is None or (m.end() < n and text[m.end()] == '"'):
            word = text[pos:].rstrip("\r\n")
            head, _, tail = word.partition('"')
            value = head + _UNESCAPE.sub(r"\1", tail)
            args.append(Arg(value, start_column + pos, True, word))
            break
        word = m.group()
        if '"' in word:
            args.append(Arg(_unquote(word), start_column + pos, True, word))
        else:
            args.append(Arg(word, start_column + pos, False, word))
        pos = m.end()
    return args


def save_string(value: str) -> str:
    """Quote a value the way iptables-save does: bare when safe, else "…" with \\ escapes."""
    if value and _SAFE.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'")
    return f'"{escaped}"'
