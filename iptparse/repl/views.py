"""Commands that look without moving: where, up/down, list, print, explain, info."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from ..addresses import format_ip
from ..describe import describe_set
from ..domain import BitSet
from ..events import ConditionResult, RuleEvaluated, TargetApplied
from ..fields import FIELDS, field_spec
from ..interp import PathState
from ..logic import split
from ..nodes import Family
from ..packet import format_packet
from ..ruleset import CompiledRule, Condition
from .commands import cmd_info_breakpoints
from .explain import explain_rule
from .index import MARK_FIELDS
from .registry import CommandError, command
from .shell import Shell, split_args

__all__ = ["LIST_CONTEXT"]

LIST_CONTEXT = 5


# --- the chain stack -----------------------------------------------------------------------

@command("where", "w", "bt", "backtrace")
def cmd_where(shell: Shell, arg: str) -> None:
    """where
    The chain stack, from the hook's chain to the current one: at each level the rule that
    jumped (-j, a return point) or went (-g, none) to the next. `>` marks the frame `list`
    shows (move it with up/down)."""
    frames = shell.frames()
    out = shell.output
    if not frames:
        out.message("not in a chain (the walk has not started, is between tables, or ended)")
        return
    selected = len(frames) - 1 - min(shell.frame, len(frames) - 1)
    for i, frame in enumerate(frames):
        marker = ">" if i == selected else " "
        number = f"#{frame.rule}" if frame.rule is not None else "#end"
        text = f"{marker} {frame.table}:{out.paint(frame.chain, 'chain')} {number}"
        if i + 1 < len(frames):
            nxt = frames[i + 1]
            flag = "-g" if nxt.via == "goto" else "-j"
            note = "  (goto: no return point)" if nxt.via == "goto" else ""
            text += f"  {flag} {nxt.chain}{note}"
        elif frame.via == "hook":
            text += "  (hook)"
        out.message(text)


def _move(shell: Shell, arg: str, direction: int) -> None:
    frames = shell.frames()
    if not frames:
        raise CommandError("not in a chain")
    count = int(arg) if arg.isdigit() else 1
    target = shell.frame + direction * count
    if not 0 <= target < len(frames):
        raise CommandError("oldest frame" if direction > 0 else "newest frame")
    shell.frame = target
    frame = frames[len(frames) - 1 - target]
    number = f"#{frame.rule}" if frame.rule is not None else "#end"
    shell.output.message(f"frame {target}: {frame.table}:{frame.chain} {number}")


@command("up", "u")
def cmd_up(shell: Shell, arg: str) -> None:
    """up [N]
    Select the chain that jumped to the selected one (N levels up); `list` shows it."""
    _move(shell, arg, 1)


@command("down", "d")
def cmd_down(shell: Shell, arg: str) -> None:
    """down [N]
    Select the chain the selected one jumped to (N levels down)."""
    _move(shell, arg, -1)


# --- listing -------------------------------------------------------------------------------

def _glyphs(shell: Shell, matched: bool | None, results: tuple[ConditionResult, ...] | None,
            count: int) -> str:
    out = shell.output
    if matched is None or results is None:
        return out.paint("·", "unknown") + " " + out.paint("·" * count, "unknown")
    head = out.paint("✓", "held") if matched else out.paint("✗", "failed")
    marks = []
    for i in range(count):
        if i < len(results) and results[i].holds is not None:
            marks.append(out.paint("✓", "held") if results[i].holds else
                         out.paint("✗", "failed"))
        elif i < len(results):
            marks.append(out.paint("?", "unknown"))  # undecided: the rule failed either way
        else:
            marks.append(out.paint("·", "unknown"))
    return f"{head} {''.join(marks)}"


@command("list", "l")
def cmd_list(shell: Shell, arg: str) -> None:
    """list [all | N | CHAIN | TABLE:CHAIN]
    The selected frame's chain around its current rule (or all of it, or around rule N, or
    another chain). Each rule: its number, ✓/✗/· for matched/not/not checked, one mark per
    condition in order (✓ held, ✗ failed, · not checked), and the rule."""
    words = split_args(arg)
    frame = shell.selected_frame() if shell.stepper is not None else None
    center: int | None = frame.rule if frame else None
    show_all = False
    if words and words[0] == "all":
        show_all = True
        words = words[1:]
    if words and words[0].isdigit():
        center = int(words[0])
        words = words[1:]
    if words:
        table, chain = shell.resolve_chain(words[0])
        center = None if frame is None or frame.chain != chain else center
    elif frame is not None:
        table, chain = frame.table, frame.chain
    else:
        raise CommandError("not in a chain: say `list CHAIN`")
    compiled = shell.ruleset.table(shell.family, table)
    found = compiled.chain(chain) if compiled else None
    if compiled is None or found is None:
        raise CommandError(f"no chain {chain} in table {table}")
    total = len(found.rules)
    if show_all or total <= 2 * LIST_CONTEXT + 1:
        lo, hi = 1, total
    else:
        middle = center or 1
        lo = max(1, middle - LIST_CONTEXT)
        hi = min(total, lo + 2 * LIST_CONTEXT)
        lo = max(1, hi - 2 * LIST_CONTEXT)
    seen = shell.results_in_stage() if shell.stepper is not None else {}
    out = shell.output
    policy = f"policy {found.policy}" if found.policy else "user chain"
    out.message(out.paint(f"{table}:{chain} ({total} rules, {policy})", "heading"))
    for number in range(lo, hi + 1):
        rule = compiled.rule(found, number - 1)
        matched, results, _ = seen.get((table, chain, number), (None, None, None))
        marker = "->" if number == center else "  "
        glyphs = _glyphs(shell, matched, results, len(rule.conditions))
        line = f"{marker}{number:>4} {glyphs}  {out.rule(rule.text)}"
        if rule.line:
            line += out.paint(f"  (line {rule.line})", "dim")
        out.message(line)
    if center is not None and center > total and found.policy:
        out.message(f"->  end: policy {found.policy}")


# --- print ---------------------------------------------------------------------------------

def _print_rule(shell: Shell, rule: CompiledRule) -> None:
    out = shell.output
    where = f"  (line {rule.line})" if rule.line else ""
    out.message(f"{rule.table}:{rule.chain} #{rule.number}{where}")
    out.message(f"    {out.rule(rule.text)}")


def _print_field(shell: Shell, name: str) -> None:
    spec = field_spec(name)
    state = shell.state
    family = shell.family
    values = state.current(spec.name)
    out = shell.output
    if values == spec.top(family):
        out.message(f"{spec.name}: unknown (the packet does not say; `set {spec.name} VALUE`)")
    else:
        out.message(f"{spec.name} {describe_set(spec.name, values, family)}")
    if spec.name in MARK_FIELDS and isinstance(values, BitSet):
        _print_bits(shell, spec.name, values)


def _print_bits(shell: Shell, name: str, values: BitSet) -> None:
    bits = shell.index.mark_bits(name)
    out = shell.output
    if not bits:
        out.message(f"  (no rule of this dump tests or sets {name} bits)")
        return
    cubes = values.cubes
    for bit in bits:
        if len(cubes) == 1 and cubes[0][1] & bit.bit:
            state = "set" if cubes[0][0] & bit.bit else "clear"
        else:
            state = "unknown"
        label = bit.name or "-"
        out.message(f"  {bit.bit:#010x}  {label:<12} {state:<8} "
                    + out.paint(f"tested by {bit.tested} rule(s), set by {bit.changed}", "dim"))


def _sets_seen(shell: Shell, state: PathState) -> Mapping[str, Any]:
    """The ipsets as the path sees them (a SET target may have changed some)."""
    return shell.index.sets if state.sets is None else state.sets


def _print_set(shell: Shell, name: str) -> None:
    out = shell.output
    state = shell.stepper.state if shell.stepper is not None else None
    captured = shell.index.sets.get(name)
    ipset = captured if state is None or state.sets is None else state.sets.get(name, captured)
    users = shell.index.set_users.get(name, [])
    if ipset is None and not users:
        known = ", ".join(shell.index.set_names) or "none"
        raise CommandError(f"no set named {name} (sets: {known})")
    if ipset is not None:
        members = getattr(ipset, "members", ())
        out.message(f"{name}: {getattr(ipset, 'type', '?')}, {len(members)} member(s)")
    else:
        out.message(f"{name}: used by the rules but not in the ipset files given")
    if ipset is not captured:
        out.message("  changed on this path by a SET target: its members as the path sees them")
    for changed in state.unknown_sets if state is not None else ():
        if changed.name == name:
            out.message(f"  changed on this path ({changed.why}) with a key not known exactly")
    if not users:
        out.message("  no rule of this dump matches on it")
        return
    ref = users[0]
    others = f" and {len(users) - 1} more" if len(users) > 1 else ""
    if state is None:  # no packet yet: nothing to look up
        out.message(out.paint(f"  (used by {ref.table}:{ref.chain} #{ref.number}{others})",
                              "dim"))
        return
    rule = shell.rule(ref.table, ref.chain, ref.number)
    for why in explain_rule(rule, state, None, _sets_seen(shell, state)):
        options = _set_options(rule, why.condition)
        if why.condition.module == "set" and getattr(options, "name", None) == name:
            holds, fails = split(why.condition.pred, state.branch, state.env,
                                 state.jumps)
            verdict = "undecided" if holds and fails else "holds" if holds else "fails"
            out.message(f"  {why.condition.source}: {verdict}")
            out.message(f"    {why.why}")
    out.message(out.paint(f"  (as in {ref.table}:{ref.chain} #{ref.number}{others})", "dim"))


def _set_options(rule: CompiledRule, condition: Condition) -> object:
    ip_count = sum(1 for c in rule.conditions if c.module == "ip")
    index = rule.conditions.index(condition) - ip_count
    return rule.rule.matches[index].options if 0 <= index < len(rule.rule.matches) else None


@command("print", "p")
def cmd_print(shell: Shell, arg: str) -> None:
    """print FIELD | set NAME | rule N | CHAIN:N | TABLE:CHAIN:N
    A packet field's value on this path (`p mark` also names the mark bits this dump uses),
    whether the packet is in a set (`p set NAME`), or a rule as the dump has it."""
    words = split_args(arg)
    if not words:
        raise CommandError("print what? a field (" + ", ".join(list(FIELDS)[:6]) +
                           "…), set NAME, rule N or CHAIN:N")
    if words[0] == "set" and len(words) == 2:
        _print_set(shell, words[1])
    elif words[0] == "rule" and len(words) == 2:
        _print_rule(shell, shell.resolve_rule(words[1]))
    elif len(words) == 1 and ":" in words[0]:
        _print_rule(shell, shell.resolve_rule(words[0]))
    elif len(words) == 1:
        try:
            field_spec(words[0])
        except KeyError:
            raise CommandError(f"unknown field `{words[0]}' (fields: "
                               f"{', '.join(FIELDS)})") from None
        _print_field(shell, words[0])
    else:
        raise CommandError("print FIELD | set NAME | rule N | CHAIN:N")


# --- explain -------------------------------------------------------------------------------

@command("explain", "e", "why")
def cmd_explain(shell: Shell, arg: str) -> None:
    """explain [N | CHAIN:N]
    Each condition of the current rule (or of rule N) and why it held or not, with the
    packet's values on this path: `src 10.13.76.26 ∉ SET (15 members)`. A rule not checked
    yet is decided on the packet as it is now."""
    stepper = shell.need_stepper()
    results = None
    state = stepper.state
    if arg:
        rule = shell.resolve_rule(arg)
    else:
        rule, results, state = _current_rule(shell)
    if results is None:
        seen = shell.results_in_stage().get((rule.table, rule.chain, rule.number))
        if seen is not None and arg:
            _, results, state = seen
    out = shell.output
    outcome = ("matched" if results is not None and all(r.holds for r in results)
               and len(results) == len(rule.conditions) else
               "did not match" if results is not None else "not checked yet")
    where = f" (line {rule.line})" if rule.line else ""
    out.message(f"{rule.table}:{rule.chain} #{rule.number}{where}: {outcome}")
    out.message(f"    {out.rule(rule.text)}")
    reasons = explain_rule(rule, state, results, _sets_seen(shell, state))
    if not reasons:
        out.message("  no condition: the rule matches every packet")
    for why in reasons:
        glyph = {True: out.paint("✓", "held"), False: out.paint("✗", "failed"),
                 None: out.paint("?" if why.checked else "·", "unknown")}[why.outcome]
        out.message(f"  {glyph} {why.condition.source}  —  {why.why}")


def _current_rule(shell: Shell) -> tuple[CompiledRule, tuple[ConditionResult, ...] | None,
                                         PathState]:
    """The rule the walk is at, with its recorded results when it was checked."""
    stepper = shell.need_stepper()
    here = shell.where()
    if here is None or here.rule is None:
        raise CommandError("not at a rule: say `explain N` or `explain CHAIN:N`")
    for event, state in reversed(stepper.history[: stepper.cursor + 1]):
        if isinstance(event, RuleEvaluated):
            if (event.rule.table, event.rule.chain, event.rule.number) == (
                    here.table, here.chain, here.rule) and here.evaluated:
                return event.rule, event.results, state
            break
        if not isinstance(event, TargetApplied):
            break
    return shell.rule(here.table, here.chain, here.rule), None, stepper.state


# --- info ----------------------------------------------------------------------------------

@command("info", "i")
def cmd_info(shell: Shell, arg: str) -> None:
    """info chains [PATTERN] | sets | routes | breakpoints | packet | assumptions
    Chains of each table with rule counts, the ipsets, the host's addresses, routing rules
    and routes, the breakpoints, the packet (as given and as the rules changed it), or the
    assumptions the walk met."""
    words = split_args(arg)
    topic = words[0] if words else ""
    if topic in ("chains", "chain"):
        _info_chains(shell, words[1] if len(words) > 1 else "*")
    elif topic in ("sets", "set"):
        _info_sets(shell)
    elif topic in ("routes", "route", "rules"):
        _info_routes(shell)
    elif topic in ("breakpoints", "break", "b"):
        cmd_info_breakpoints(shell)
    elif topic in ("packet", "pk"):
        _info_packet(shell)
    elif topic in ("assumptions", "assume"):
        _info_assumptions(shell)
    else:
        raise CommandError("info chains | sets | routes | breakpoints | packet | assumptions")


def _info_chains(shell: Shell, pattern: str) -> None:
    out = shell.output
    for table, chains in shell.index.tables.items():
        shown = [c for c in chains if fnmatch.fnmatchcase(c.name, pattern) or pattern in c.name]
        if not shown:
            continue
        out.message(out.paint(f"*{table}", "heading"))
        for chain in shown:
            policy = f"policy {chain.policy}" if chain.policy else ""
            out.message(f"  {chain.name:<40} {len(chain.rules):>6} rule(s)  {policy}".rstrip())


def _info_sets(shell: Shell) -> None:
    out = shell.output
    names = shell.index.set_names
    if not names:
        out.message("no ipsets (give them with --ipset FILE)")
    for name in names:
        ipset = shell.index.sets.get(name)
        users = len(shell.index.set_users.get(name, []))
        if ipset is None:
            out.message(f"  {name:<40} (not in the ipset files)  used by {users} rule(s)")
        else:
            out.message(f"  {name:<40} {getattr(ipset, 'type', '?'):<16} "
                        f"{len(getattr(ipset, 'members', ())):>6} member(s)  "
                        f"used by {users} rule(s)")


def _info_routes(shell: Shell) -> None:
    """What routing decides by, for the family being walked: the routing rules in the order
    the kernel tries them, each table's routes most specific first, and the addresses."""
    out = shell.output
    host = shell.ruleset.host
    if host is None:
        out.message("no routes (give them with --routes FILE and --addrs FILE)")
        return
    family = shell.family
    rules = host.rules_for(family)
    given = "" if family in host.rules else " (the kernel's defaults)"
    out.message(out.paint(f"routing rules, {family.value}{given}", "heading"))
    for rule in rules:
        out.message(f"  {rule.priority}:\t{rule.text}")
    tables = ["main", *dict.fromkeys(r.table for r in rules if r.table not in (
        None, "main", "local"))]
    tables += [t for t in dict.fromkeys(r.table for r in host.routes if r.family is family)
               if t not in tables and t != "local"]
    for table in tables:
        routes = host.routes_for(family, table, dead=True)
        unknown = "" if host.routes_known_for(family) or table != "main" else (
            " (the addresses' subnets; the rest not captured: a packet leaves by the "
            "interface it names)")
        out.message(out.paint(f"table {table}: {len(routes)} route(s){unknown}", "heading"))
        for route in routes:
            out.message(f"  {route.text()}")
    addresses = [a for a in host.addresses if a.family is family]
    unknown = "" if host.addresses_known else (
        " (not captured: a packet is for this host as the path asked says)")
    out.message(out.paint(f"addresses: {len(addresses)}{unknown}", "heading"))
    for a in addresses:
        out.message(f"  {a.interface or '(any)'} {format_ip(a.address, family)}/{a.prefix}")
    tool = "ip6tables" if family is Family.INET6 else "iptables"
    if host.sysctls is not None and (tool in host.sysctls.bridge or host.bridges):
        own = sorted(host.bridges_calling(tool))
        calls = host.sysctls.bridge_calls(tool)
        out.message(out.paint(f"bridged packets and the {tool} tables (br_netfilter)",
                              "heading"))
        out.message(f"  sysctl bridge-nf-call-{tool} {int(calls)}: "
                    + ("called for every bridge" if calls else "not called" + (
                        f", but for {', '.join(own)}, whose own nf_call_{tool} is on" if own
                        else "")))
    if host.sysctls is None or family is not Family.INET:
        return
    out.message(out.paint("settings on receipt (sysctl, `all` combined in)", "heading"))
    for name in [*sorted(host.sysctls.interfaces), None]:
        conf = host.sysctls.conf(name)
        out.message(f"  {name or '(others)':<16} forwarding {conf.forwarding}  rp_filter "
                    f"{conf.rp_filter}  accept_local {conf.accept_local}  src_valid_mark "
                    f"{conf.src_valid_mark}  send_redirects {conf.send_redirects}  "
                    f"route_localnet {conf.route_localnet}")


def _info_packet(shell: Shell) -> None:
    stepper = shell.need_stepper()
    out = shell.output
    state = stepper.state
    out.message(f"packet: {format_packet(stepper.packet) or '(any)'}")
    out.message(f"path:   {stepper.path}, {stepper.family.value}")
    changed = sorted({k.split('@')[0] for k in state.labels}
                     | {k for k, v in state.env.items() if not isinstance(v, str)})
    for name in changed:
        if name in FIELDS:
            out.message(f"  now {name} {describe_set(name, state.current(name), stepper.family)}")
    for key, value in shell.assumptions.items():
        out.message(f"  assume {key}={'true' if value else 'false'}")


def _info_assumptions(shell: Shell) -> None:
    stepper = shell.need_stepper()
    out = shell.output
    keys: dict[str, str] = {}
    for cond in stepper.state.conditions:
        if cond.var.startswith("?"):
            keys.setdefault(cond.var[1:], cond.text)
    fork = stepper.at_fork
    if fork is not None:
        base = len(stepper.state.conditions)
        for option in fork.options:
            for cond in option.conditions[base:]:
                if cond.var.startswith("?"):
                    keys.setdefault(cond.var[1:], cond.text)
    if not keys:
        out.message("no assumption met on this path so far")
    for key, text in keys.items():
        pinned = shell.assumptions.get(key)
        pin = "" if pinned is None else f"  [pinned {'true' if pinned else 'false'}]"
        out.message(f"  {key}: {text}{pin}")
