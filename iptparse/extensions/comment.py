"""comment match (libxt_comment): text attached to a rule, always true.

iptables keeps the first 255 bytes (longer text is cut without a word) and prints the text with
its save quoting (bare when it is a single safe word, else in double quotes with escapes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..argv import save_string
from ..logic import TRUE, Pred
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._a_text import truncate
from ._xtopt import need, once
from .base import ExtContext, Extension, OptArg, OptSpec, RenderContext, register

__all__ = ["CommentMatch"]

MAX_COMMENT = 255


@dataclass(frozen=True, slots=True)
class CommentMatch(ExtOptions):
    """`--comment TEXT`: matches every packet; only people read it."""

    text: str


@register
class Comment(Extension):
    names = ("comment",)
    options = (OptSpec("comment", 1),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> CommentMatch:
        opts = once(args)
        need(opts, "comment")
        return CommentMatch(truncate(opts["comment"].value, MAX_COMMENT + 1))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, CommentMatch)
        return f" --comment {save_string(options.text)}"

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        return TRUE
