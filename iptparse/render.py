"""Nodes to canonical text: what iptables-save prints for the same ruleset.

Dispatch is by node type (sqlglot's generator style); each extension prints its own options,
as iptables' libxt_* save() functions do. For any file iptables-save printed, rendering its parse
gives the file back byte for byte.
"""

from __future__ import annotations

from functools import singledispatch

from .addresses import format_address
from .argv import save_string
from .extensions.base import RenderContext, find_match, find_target
from .nodes import (
    Blank,
    Chain,
    Comment,
    Counters,
    Dump,
    Family,
    Match,
    RawOptions,
    Rule,
    Table,
    Target,
)
from .protocols import protocol_name

__all__ = ["render", "render_rule", "render_rule_spec"]


@singledispatch
def render(node: object, family: Family = Family.INET) -> str:
    """Canonical text of a node: a whole dump, a table, a chain, a rule, a match or a target."""
    raise TypeError(f"cannot render {type(node).__name__}")


@render.register
def _dump(node: Dump, family: Family = Family.INET) -> str:
    parts: list[str] = []
    for item in node.items:
        if isinstance(item, Table):
            parts.append(_table(item, node.family))
        elif isinstance(item, Comment):
            parts.append(item.text + "\n")
        else:
            parts.append(item.text + "\n")
    text = "".join(parts)
    if not node.final_newline and text.endswith("\n"):
        text = text[:-1]
    return text


def _leading(lines: tuple[str, ...]) -> str:
    return "".join(line + "\n" for line in lines)


@render.register
def _table(node: Table, family: Family = Family.INET) -> str:
    if node.form != "save":
        return _listing(node, family)
    lines = [_leading(node.leading), f"*{node.name}\n"]
    for chain in node.chains:
        lines.append(_leading(chain.leading))
        lines.append(_chain_line(chain) + "\n")
    for chain in node.chains:
        for rule in chain.rules:
            lines.append(_leading(rule.leading))
            lines.append(render_rule(rule, family) + "\n")
    lines.append(_leading(node.trailing))
    lines.append("COMMIT\n")
    return "".join(lines)


def _listing(node: Table, family: Family) -> str:
    """The table as `iptables -S` prints it (`-v`: with counters): policies, user chains,
    then the rules, each counted just before its target."""
    counted = node.form == "list-rules-counters"
    lines = [_leading(node.leading)]
    for chain in node.chains:
        lines.append(_leading(chain.leading))
        if chain.policy is None:
            lines.append(f"-N {chain.name}\n")
            continue
        counters = chain.counters or Counters()
        extra = f" -c {counters.packets} {counters.bytes}" if counted else ""
        lines.append(f"-P {chain.name} {chain.policy}{extra}\n")
    for chain in node.chains:
        for rule in chain.rules:
            lines.append(_leading(rule.leading))
            head, target = _spec(rule, family)
            counters = rule.counters or Counters()
            extra = f" -c {counters.packets} {counters.bytes}" if counted else ""
            lines.append(f"-A {rule.chain}{head}{extra}{target}{rule.trailing}\n")
    lines.append(_leading(node.trailing))
    return "".join(lines)


def _chain_line(chain: Chain) -> str:
    counters = chain.counters or "[0:0]"
    return f":{chain.name} {chain.policy or '-'} {counters}"


@render.register
def _chain(node: Chain, family: Family = Family.INET) -> str:
    return _chain_line(node) + "\n" + "".join(render_rule(r, family) + "\n" for r in node.rules)


@render.register
def _rule(node: Rule, family: Family = Family.INET) -> str:
    return render_rule(node, family)


def render_rule(rule: Rule, family: Family = Family.INET) -> str:
    """`[counters] -A CHAIN spec`, as one iptables-save line (without newline)."""
    counters = f"{rule.counters} " if rule.counters is not None else ""
    return f"{counters}-A {rule.chain}{render_rule_spec(rule, family)}{rule.trailing}"


def render_rule_spec(rule: Rule, family: Family = Family.INET) -> str:
    """Everything after `-A CHAIN`, with a leading space (empty for a bare rule)."""
    head, target = _spec(rule, family)
    return head + target


def _spec(rule: Rule, family: Family) -> tuple[str, str]:
    """The rule's matches and its target, apart (`iptables -S -v` counts between them)."""
    out: list[str] = []
    if rule.src is not None:
        out.append(f"{' !' if rule.src_invert else ''} -s {format_address(rule.src)}")
    if rule.dst is not None:
        out.append(f"{' !' if rule.dst_invert else ''} -d {format_address(rule.dst)}")
    if rule.in_interface is not None:
        iface = rule.in_interface
        out.append(f"{' !' if iface.invert else ''} -i {iface.name}")
    if rule.out_interface is not None:
        iface = rule.out_interface
        out.append(f"{' !' if iface.invert else ''} -o {iface.name}")
    if rule.protocol is not None:
        proto = rule.protocol
        name = proto.spelling or protocol_name(proto.number) or str(proto.number)
        out.append(f"{' !' if proto.invert else ''} -p {name}")
    if rule.fragment is not None:
        out.append(" -f" if rule.fragment else " ! -f")
    ctx = RenderContext(family)
    for match in rule.matches:
        out.append(_match_text(match, ctx))
    target = _target_text(rule.target, ctx) if rule.target is not None else ""
    return "".join(out), target


def _match_text(match: Match, ctx: RenderContext) -> str:
    if isinstance(match.options, RawOptions):
        text = match.options.text
        return f" -m {match.module}{' ' + text if text else ''}"
    ext = find_match(match.module)
    assert ext is not None, match.module
    return f" -m {match.module}{ext.render(match.options, ctx)}"


def _target_text(target: Target, ctx: RenderContext) -> str:
    if target.goto:
        return f" -g {target.name}"
    if target.options is None:
        return f" -j {target.name}"
    if isinstance(target.options, RawOptions):
        text = target.options.text
        return f" -j {target.name}{' ' + text if text else ''}"
    ext = find_target(target.name)
    assert ext is not None, target.name
    return f" -j {target.name}{ext.render(target.options, ctx)}"


@render.register
def _match(node: Match, family: Family = Family.INET) -> str:
    return _match_text(node, RenderContext(family)).lstrip()


@render.register
def _target(node: Target, family: Family = Family.INET) -> str:
    return _target_text(node, RenderContext(family)).lstrip()


@render.register
def _comment(node: Comment, family: Family = Family.INET) -> str:
    return node.text + "\n"


@render.register
def _blank(node: Blank, family: Family = Family.INET) -> str:
    return "\n"


# re-exported for extensions that print strings
quote = save_string
