"""Colours: one pygments style for rules (output and `pygmentize`), and the prompt's style.

The prompt_toolkit style is derived from the pygments one, so a rule in the listing and the
chain name in the prompt share a colour.
"""

from __future__ import annotations

from typing import ClassVar

from prompt_toolkit.styles import BaseStyle, merge_styles, style_from_pygments_cls
from prompt_toolkit.styles import Style as PromptStyle
from pygments.style import Style  # type: ignore[import-untyped, unused-ignore]
from pygments.token import (  # type: ignore[import-untyped, unused-ignore]
    Comment,
    Generic,
    Keyword,
    Name,
    Number,
    Operator,
    String,
    Text,
    _TokenType,
)

__all__ = ["SGR", "IptablesStyle", "prompt_style"]

CHAIN = "#00afaf"


class IptablesStyle(Style):  # type: ignore[misc, unused-ignore]
    """Rules: chains cyan, targets magenta, verdicts green or red, values warm."""

    name = "iptparse"
    styles: ClassVar[dict[_TokenType, str]] = {
        Text: "",
        Comment: "italic #8a8a8a",
        Keyword: "bold #5f87d7",
        Keyword.Namespace: "bold #af87ff",
        Keyword.Reserved: "bold #af87ff",
        Keyword.Constant: "#d7af00",
        Name.Function: CHAIN,
        Name.Builtin: "bold #d787ff",
        Name.Namespace: "#5fafff",
        Name.Attribute: "#87afaf",
        String: "#d7875f",
        Number: "#afd75f",
        Operator: "bold #ff5f5f",
        Generic.Inserted: "bold #5fd75f",
        Generic.Deleted: "bold #ff5f5f",
    }


#: SGR codes for the few things the REPL colours outside rules
SGR = {
    "held": "32",
    "failed": "31",
    "unknown": "2",
    "accept": "1;32",
    "drop": "1;31",
    "heading": "1",
    "dim": "2",
    "error": "1;31",
    "chain": "36",
}


def prompt_style() -> BaseStyle:
    """The prompt: table dim, chain in the chain colour, rule number bold."""
    own = PromptStyle.from_dict({
        "prompt.table": "#8a8a8a",
        "prompt.chain": CHAIN,
        "prompt.rule": "bold",
        "prompt.verdict": "bold #ff5f5f",
        "prompt.start": "#8a8a8a",
        "prompt.arrow": "",
    })
    return merge_styles([style_from_pygments_cls(IptablesStyle), own])
