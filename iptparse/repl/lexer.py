"""A pygments lexer for iptables-save / iptables-restore text (the REPL colours rules with it).

Registered as the pygments plugin `iptables` (pyproject entry point), so `pygmentize -l
iptables` reads dumps too. A `-j NAME` is a chain when the text declares `:NAME` or the caller
passes it in the `chains` option (the REPL shows single rules, out of their dump); otherwise an
all-capitals name without a dash is taken for a target extension (MARK, DNAT…), which is how
iptables itself names them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

from pygments.lexer import RegexLexer, bygroups  # type: ignore[import-untyped, unused-ignore]
from pygments.token import (  # type: ignore[import-untyped, unused-ignore]
    Comment,
    Generic,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
    _TokenType,
)
from pygments.util import get_list_opt  # type: ignore[import-untyped, unused-ignore]

__all__ = ["ACCEPTING", "REFUSING", "IptablesSaveLexer"]

#: verdicts that let a packet on (shown like an insertion) or stop it (like a deletion)
ACCEPTING = frozenset({"ACCEPT", "RETURN"})
REFUSING = frozenset({"DROP", "REJECT"})
_EXTENSION_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_DECLARED = re.compile(r"^:(\S+)", re.MULTILINE)

Tokens = Iterator[tuple[int, _TokenType, str]]


def _target(lexer: IptablesSaveLexer, match: re.Match[str]) -> Tokens:
    """`-j NAME` / `-g NAME`: a verdict, a user chain or a target extension."""
    yield match.start(1), Keyword, match.group(1)
    yield match.start(2), Whitespace, match.group(2)
    name = match.group(3)
    if name in ACCEPTING:
        token = Generic.Inserted
    elif name in REFUSING:
        token = Generic.Deleted
    elif name in lexer.known_chains or not _EXTENSION_NAME.match(name):
        token = Name.Function
    else:
        token = Name.Builtin
    yield match.start(3), token, name


class IptablesSaveLexer(RegexLexer):  # type: ignore[misc, unused-ignore]
    """iptables-save, ip6tables-save and iptables-restore input."""

    name = "iptables-save"
    aliases: ClassVar[list[str]] = [
        "iptables", "iptables-save", "ip6tables", "ip6tables-save", "iptables-restore",
    ]
    filenames: ClassVar[list[str]] = [
        "*.iptables", "*.ip6tables", "rules.v4", "rules.v6", "iptables-save*.txt",
        "ip6tables-save*.txt",
    ]
    mimetypes: ClassVar[list[str]] = ["text/x-iptables-save", "text/x-iptables"]
    url = "https://www.netfilter.org/projects/iptables/"
    flags = re.MULTILINE

    tokens: ClassVar[dict[str, Any]] = {
        "root": [
            (r"#.*?$", Comment.Single),
            (r"^(\*)(\S+)", bygroups(Punctuation, Keyword.Namespace)),
            (r"^COMMIT\b", Keyword.Reserved),
            (r"^(:)(\S+)(\s+)(\S+)", bygroups(Punctuation, Name.Function, Whitespace,
                                              Keyword.Constant)),
            (r"\[\d+:\d+\]", Number.Integer),
            (r"(-[AIDRNXLFZ]|--append|--insert|--delete|--replace|--new-chain)(\s+)(\S+)",
             bygroups(Keyword, Whitespace, Name.Function)),
            (r"(-[jg]|--jump|--goto)(\s+)(\S+)", _target),
            (r"(-m|--match)(\s+)(\S+)", bygroups(Keyword, Whitespace, Name.Namespace)),
            (r"!(?=\s)", Operator),
            (r'"(?:\\.|[^"\\])*"', String.Double),
            (r"--?[A-Za-z][\w-]*", Name.Attribute),
            (r"0x[0-9a-fA-F]+(?:/0x[0-9a-fA-F]+)?\b", Number.Hex),
            (r"\d{1,3}(?:\.\d{1,3}){3}(?:/[\d.]+)?(?:-\d{1,3}(?:\.\d{1,3}){3})?\b", Number),
            (r"[0-9a-fA-F]*:[0-9a-fA-F:]*:[0-9a-fA-F:.]*(?:/\d+)?", Number),
            (r"\d+(?:[:-]\d+)?\b", Number.Integer),
            (r"\s+", Whitespace),
            (r"[^\s\"]+", Text),
        ],
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.chains = frozenset(get_list_opt(options, "chains", []))
        self.known_chains: frozenset[str] = self.chains

    def get_tokens_unprocessed(self, text: str, stack: tuple[str, ...] = ("root",)) -> Tokens:
        # chains this text declares count as chains even when they look like targets (DOCKER)
        self.known_chains = self.chains | frozenset(_DECLARED.findall(text))
        yield from super().get_tokens_unprocessed(text, stack)

    @staticmethod
    def analyse_text(text: str) -> float:
        """Pygments' guess: a `*table` line followed by `:CHAIN POLICY` declarations."""
        if re.search(r"^\*(filter|nat|mangle|raw|security)\s*$", text, re.MULTILINE) and (
                re.search(r"^:\S+ (ACCEPT|DROP|-) ", text, re.MULTILINE)):
            return 0.9
        if re.search(r"^-A \S+ ", text, re.MULTILINE):
            return 0.3
        return 0.0
