"""NFQUEUE (libxt_NFQUEUE, revision 3): hand the packet to a userspace queue.

The kernel stores a first queue and a count; iptables-save prints `--queue-num` for one queue
and `--queue-balance first:last` for several, so both spellings of one queue print the same.

Semantics (xt_NFQUEUE.c, nf_queue.c): verdict QUEUE, the packet goes to a userspace program,
which decides its fate (without a listener the kernel drops it). With --queue-bypass and no
program on the queue the kernel goes on as if this table had accepted the packet: an assumption
of kind `nfqueue` ("a program listens on queue N"). Which queue of a balanced range gets the
packet (a hash, or the CPU with --queue-cpu-fanout) only shows in the note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect
from ._xtopt import xt_mint, xt_uint_arg
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    one_of,
    register,
)

__all__ = ["NfqueueTarget"]


@dataclass(frozen=True, slots=True)
class NfqueueTarget(ExtOptions):
    """Queues `queue` … `queue + total - 1`; `bypass` accepts when no program listens."""

    queue: int = 0
    total: int = 1
    bypass: bool = False
    cpu_fanout: bool = False

    @property
    def last(self) -> int:
        return self.queue + self.total - 1


def parse_range16(arg: OptArg) -> list[int]:
    """XTTYPE_UINT16RC: up to two `:`-separated numbers, empty ends meaning 0 and 65535."""
    return xt_mint(arg, 0xFFFF, at_part=False)


@register
class Nfqueue(Extension):
    kind = "target"
    names = ("NFQUEUE",)
    options = (
        OptSpec("queue-num", 1),
        OptSpec("queue-balance", 1),
        OptSpec("queue-bypass", 0),
        OptSpec("queue-cpu-fanout", 0),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> NfqueueTarget:
        opts = one_of(args)
        if "queue-num" in opts and "queue-balance" in opts:
            later = max(opts["queue-num"], opts["queue-balance"], key=lambda a: a.column)
            raise OptionError("--queue-num and --queue-balance cannot be combined", later.column)
        queue, total = 0, 1
        if "queue-num" in opts:
            queue = xt_uint_arg(opts["queue-num"], 0, 0xFFFF)
        if "queue-balance" in opts:
            arg = opts["queue-balance"]
            values = parse_range16(arg)
            if len(values) != 2:
                raise OptionError(f"Bad range \"{arg.value}\"", arg.value_column())
            first, last = values
            if first >= last:
                raise OptionError(f"{first} should be less than {last}", arg.value_column())
            if last - first + 1 > 0xFFFF:
                raise OptionError("the kernel refuses 65536 queues (a 16-bit count): "
                                  "start the range at 1", arg.value_column())
            queue, total = first, last - first + 1
        if "queue-cpu-fanout" in opts and "queue-balance" not in opts:
            raise OptionError("--queue-cpu-fanout also requires --queue-balance",
                              opts["queue-cpu-fanout"].column)
        return NfqueueTarget(queue, total, "queue-bypass" in opts, "queue-cpu-fanout" in opts)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, NfqueueTarget)
        if options.total > 1:
            out = f" --queue-balance {options.queue}:{options.last}"
        else:
            out = f" --queue-num {options.queue}"
        if options.bypass:
            out += " --queue-bypass"
        if options.cpu_fanout:
            out += " --queue-cpu-fanout"
        return out

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, NfqueueTarget)
        if options.total > 1:
            how = "by CPU" if options.cpu_fanout else "by a hash of the addresses"
            queue = f"one of queues {options.queue}-{options.last} (chosen {how})"
        else:
            queue = f"queue {options.queue}"
        note = f"hand the packet to the userspace program on {queue}"
        if not options.bypass:
            return Effect(verdict="QUEUE", note=f"{note} (dropped when none listens)")
        listens = ctx.assume("nfqueue", f"a program listens on {queue}",
                             f"no program listens on {queue}")
        return Effect(verdict="QUEUE", note=note, when=listens, otherwise=Effect(
            verdict="ACCEPT", note=f"no program on {queue}: --queue-bypass goes on as if "
            "this table accepted the packet"))
