"""Predicates over packets, abstract packet states, and splitting a state on a predicate.

Every match compiles to a predicate built from `Test(field, set)` with And/Or/Not, plus three
leaves for what no dump can show: `Chance` (statistic --mode random), `Assume` (limit, recent,
quota… whose outcome depends on hidden state) and `Custom` (decided by a Python function once
its fields are known exactly, an assumption otherwise).

A path's state is a `Box`: for each variable, the set of values it may still take. Variables are
the input packet's fields (`src`, `dport`, `nfmark`…), fresh values introduced by rewrites
(`dst@2`: the destination after a DNAT to a range) and assumption flags (`?limit@filter:INPUT:3`).
An `Env` maps each packet field to the variable holding its current value; mark-like bit fields
map to a `BitsExpr`, so MARK/CONNMARK arithmetic keeps every known bit known and every unknown bit
tied to the input bit it came from.

`split` returns the disjoint pieces of a state where a predicate holds and where it fails; a
concrete packet (every variable a single value) always lands on one side, so the same code is
the interpreter for concrete and abstract packets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from fractions import Fraction

from .describe import describe_set
from .domain import BitSet, IntSet, ValueSet
from .fields import field_spec
from .nodes import Family

__all__ = [
    "FALSE",
    "TRUE",
    "And",
    "Assume",
    "BitsExpr",
    "Box",
    "Branch",
    "Chance",
    "Cond",
    "Const",
    "Custom",
    "Env",
    "Moved",
    "Not",
    "Or",
    "Pred",
    "Step",
    "Test",
    "XorMask",
    "fork_negations",
    "pinned",
    "split",
    "visit_flag",
    "visit_of",
    "visit_texts",
]


# --- predicates ----------------------------------------------------------------------------

class Pred:
    """Base of predicate nodes (a closed union: Test, And, Or, Not, Const, Chance, Assume,
    Custom)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Test(Pred):
    """`field ∈ values`, on the packet's current value of the field."""

    __test__ = False  # not a pytest test class

    field: str
    values: ValueSet
    text: str | None = dc_field(default=None, compare=False)
    neg_text: str | None = dc_field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class And(Pred):
    parts: tuple[Pred, ...]


@dataclass(frozen=True, slots=True)
class Or(Pred):
    parts: tuple[Pred, ...]


@dataclass(frozen=True, slots=True)
class Not(Pred):
    part: Pred


@dataclass(frozen=True, slots=True)
class Const(Pred):
    value: bool


TRUE = Const(True)
FALSE = Const(False)


@dataclass(frozen=True, slots=True)
class Chance(Pred):
    """Holds with probability `p`, independently of the packet (statistic --mode random).

    The draw is recorded in the path's box under `visit_flag(key, visit)`: a path resumed at
    this rule takes the same side again (its probability counted once), and another visit of
    the rule draws anew. The user's pin (`?key`) decides every visit.
    """

    p: Fraction
    key: str
    text: str = ""


def visit_flag(key: str, visit: int) -> str:
    """The flag of a random draw, or of an assumption made per visit (`Assume.per_visit`), at
    one visit of its rule (`?statistic@nat:SVC:1#visit4`).

    The kernel draws anew each time it evaluates the rule (a limit takes a token each time),
    and a rule in a user chain is evaluated once per entry of its chain: jumped to twice in
    one table, or from two hooks.
    `visit` is the number of jumps and gotos the path took before (`PathState.jumps`): a jump
    enters the rule's chain before each visit, so two visits differ, and a fork that resumes
    the one visit has the same. The suffix is a word, not a bare `#N`: a bpf program's
    instruction is `bpf@filter:INPUT:1#5`, and read as a visit it would be named as its
    rule's whole program."""
    return f"?{key}{_VISIT}{visit}"


_VISIT = "#visit"


def visit_texts(pred: Chance | Assume, made: Iterable[str]) -> tuple[str, str]:
    """How a draw, or an assumption made per visit, reads when it holds and when it fails.
    `made` are the flags the path set so far: a rule's second and later ones on one path say
    which they are (`(draw 2)`, `(check 2)`), since their texts are otherwise the first's."""
    if isinstance(pred, Chance):
        text = pred.text or f"random draw below {float(pred.p):.6g} holds"
        neg_text, word = negate_text(text), "draw"
    else:
        text, neg_text, word = pred.text, pred.neg_text, "check"
    prefix = f"?{pred.key}{_VISIT}"
    earlier = sum(1 for var in made if var.startswith(prefix) and (drawn := visit_of(var))
                  and drawn[0] == pred.key)
    if not earlier:
        return text, neg_text
    return f"{text} ({word} {earlier + 1})", f"{neg_text} ({word} {earlier + 1})"


def visit_of(var: str) -> tuple[str, int] | None:
    """The rule key and visit of a visit's flag (`visit_flag`), None for any other variable.
    A key ends in the rule's number (`…:N`), so a `#visit` in a chain name cannot pass for
    the visit's."""
    key, sep, visit = var[1:].rpartition(_VISIT)
    if not sep or not var.startswith("?") or not visit.isdigit() or not key[-1:].isdigit():
        return None
    return key, int(visit)


@dataclass(frozen=True, slots=True)
class Assume(Pred):
    """Depends on state no dump shows; `key` names the assumption a user can pin.

    `per_visit`: the state changes with each evaluation of the rule (limit and hashlimit
    take a token, quota its bytes, recent updates its list, statistic's nth counter moves),
    so a rule a path meets twice is two assumptions, one per visit (`visit_flag`), as a random
    draw is two draws. The rule's pin and its kind's pin decide every visit.
    """

    key: str
    kind: str
    text: str
    neg_text: str
    per_visit: bool = False


@dataclass(frozen=True, slots=True)
class Custom(Pred):
    """Decided by `fn(values)` when every field in `fields` is known exactly; otherwise by the
    exact predicate `expand()` when one is given (built only then: an ipset with 200,000
    members becomes ranges only for abstract packets), else an assumption named `key`."""

    fields: tuple[str, ...]
    fn: Callable[[tuple[int | str, ...]], bool] = dc_field(compare=False)
    key: str
    kind: str
    text: str
    neg_text: str
    expand: Callable[[], Pred] | None = dc_field(default=None, compare=False)


def negate_text(text: str) -> str:
    for positive, negative in ((" ∈ ", " ∉ "), (" = ", " ≠ "), (" matches ", " does not match "),
                               (" has ", " has not "), (" holds", " does not hold")):
        if positive in text:
            return text.replace(positive, negative, 1)
    return f"not ({text})"


# --- bit expressions -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BitsExpr:
    """A bit field's current value: `OR of (var & mask) for each source, XOR xor`.

    Source masks are disjoint; bits in no source are the constant bits of `xor`. This is closed
    under `(x & ~m) ^ v` (MARK --set-xmark and every MARK/CONNMARK form reduces to it) and under
    copying bits between fields (CONNMARK --save-mark / --restore-mark).
    """

    sources: tuple[tuple[str, int], ...]
    xor: int
    width: int

    @classmethod
    def var(cls, var: str, width: int) -> BitsExpr:
        return cls(((var, (1 << width) - 1),), 0, width)

    @property
    def const_mask(self) -> int:
        mask = (1 << self.width) - 1
        for _, m in self.sources:
            mask &= ~m
        return mask

    def xmark(self, value: int, mask: int) -> BitsExpr:
        """(x & ~mask) ^ value."""
        keep = ~mask & ((1 << self.width) - 1)
        sources = tuple((v, m & keep) for v, m in self.sources if m & keep)
        return BitsExpr(sources, (self.xor & keep) ^ value, self.width)

    def mix(self, other: BitsExpr, take: int, fresh: Callable[[int], str]) -> BitsExpr:
        """`(self & ~take) ^ (other & take)`-style copies: bits in `take` come from `other`.

        Used for CONNMARK save/restore. Bits where both sides are variables XORed together
        cannot be represented; callers pass only the kernel's common shapes where the target
        bits are cleared first, so `take` bits simply come from `other`.
        """
        keep = ~take & ((1 << self.width) - 1)
        sources: dict[str, int] = {}
        for v, m in self.sources:
            if m & keep:
                sources[v] = sources.get(v, 0) | (m & keep)
        for v, m in other.sources:
            if m & take:
                sources[v] = sources.get(v, 0) | (m & take)
        xor = (self.xor & keep) | (other.xor & take)
        return BitsExpr(tuple(sorted(sources.items())), xor, self.width)

    def value_in(self, box: Box) -> BitSet | None:
        """The set of current values when every source is known exactly, else None."""
        value = self.xor
        for var, mask in self.sources:
            known = box.get(var)
            assert isinstance(known, BitSet)
            single = known.single_value()
            if single is None:
                return None
            value ^= single & mask
        return BitSet.single(value, self.width)


@dataclass(frozen=True, slots=True)
class XorMask:
    """One rewrite of a byte, `x → (x & ~mask) ^ value`: TOS --set-tos/--and-tos/--or-tos/
    --xor-tos, DSCP (`mask` 0xfc) and ECN --ecn-ip-ect (`mask` 0x03) all take this form."""

    value: int
    mask: int

    def apply(self, known: int, top: int) -> int:
        return (known & ~self.mask & top) ^ self.value


#: a step of `Moved`: an int moves the value by that much, stopping at 0 and at the top
Step = int | XorMask

#: fields small enough that an XorMask step is applied and undone value by value
_ENUMERABLE = 0xFFFF


@dataclass(frozen=True, slots=True)
class Moved:
    """A number field's current value as `var` moved by `steps`: a forwarded packet's TTL is
    the input TTL less one (stopping at 0), TTL --ttl-dec 3 lowers it by three, TOS
    --set-tos 0x10/0x3f rewrites some of its bits. A test on the field must narrow the input
    value itself (a fresh value would forget where it came from), so each step is undone
    exactly (`back`)."""

    var: str
    steps: tuple[Step, ...]

    def then(self, step: Step) -> Moved:
        """One more step; two moves in the same direction make one (they stop at the same
        end), as do two rewrites of bits."""
        last = self.steps[-1] if self.steps else None
        if isinstance(step, XorMask) and isinstance(last, XorMask):
            merged = XorMask((last.value & ~step.mask) ^ step.value, last.mask | step.mask)
            return Moved(self.var, (*self.steps[:-1], merged))
        if (isinstance(step, int) and isinstance(last, int) and last
                and (last > 0) == (step > 0)):
            return Moved(self.var, (*self.steps[:-1], last + step))
        return Moved(self.var, (*self.steps, step))

    def value(self, known: int, top: int) -> int:
        """The field's value when `var` is `known`."""
        for step in self.steps:
            if isinstance(step, XorMask):
                known = step.apply(known, top)
            else:
                known = max(0, min(top, known + step))
        return known

    def of(self, values: IntSet) -> IntSet:
        """The field's values when `var` takes `values`."""
        for step in self.steps:
            top = values.top
            if isinstance(step, XorMask):
                assert top <= _ENUMERABLE
                values = IntSet.values((step.apply(v, top) for v in values), top)
            else:
                values = IntSet([(max(0, min(top, lo + step)), max(0, min(top, hi + step)))
                                 for lo, hi in values.ranges], top)
        return values

    def back(self, values: IntSet) -> IntSet:
        """The values of `var` for which the field lies in `values`."""
        for step in reversed(self.steps):
            if isinstance(step, XorMask):
                top = values.top
                assert top <= _ENUMERABLE
                values = IntSet.values(
                    (v for v in range(top + 1) if step.apply(v, top) in values), top)
            else:
                values = _unshift(values, step)
        return values


def _shift(values: IntSet, delta: int) -> IntSet:
    """`values` moved by `delta`, those that leave [0, top] left out."""
    top = values.top
    return IntSet([(max(lo + delta, 0), min(hi + delta, top)) for lo, hi in values.ranges
                   if hi + delta >= 0 and lo + delta <= top], top)


def _unshift(values: IntSet, delta: int) -> IntSet:
    """The values that one step of `delta` (stopping at 0 and at the top) takes into
    `values`: every value it stops at the end with, when that end is among them."""
    top = values.top
    before = _shift(values, -delta)
    if delta < 0 and 0 in values:
        before = before | IntSet.range(0, min(-delta, top), top)
    elif delta > 0 and top in values:
        before = before | IntSet.range(max(top - delta, 0), top, top)
    return before


Env = Mapping[str, "str | BitsExpr | Moved"]


# --- boxes ---------------------------------------------------------------------------------

def var_field(var: str) -> str:
    """The field a variable ranges over (`dst@2` → `dst`); assumption flags are '?'."""
    if var.startswith("?"):
        return "?"
    return var.split("@", 1)[0]


_FLAG = IntSet.all(1)


class Box:
    """The values each variable may take on a path; variables not listed are unconstrained."""

    __slots__ = ("_hash", "family", "values")

    def __init__(self, values: Mapping[str, ValueSet], family: Family) -> None:
        self.values = dict(values)
        self.family = family
        self._hash: int | None = None

    def get(self, var: str) -> ValueSet:
        known = self.values.get(var)
        if known is not None:
            return known
        return self.top(var)

    def top(self, var: str) -> ValueSet:
        name = var_field(var)
        if name == "?":
            return _FLAG
        return field_spec(name).top(self.family)

    def with_(self, var: str, value: ValueSet) -> Box:
        values = dict(self.values)
        values[var] = value
        return Box(values, self.family)

    def is_empty(self) -> bool:
        return any(v.is_empty for v in self.values.values())

    def items(self) -> Iterator[tuple[str, ValueSet]]:
        return iter(self.values.items())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Box) and self.values == other.values

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = self._hash = hash(frozenset(self.values.items()))
        return h

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {v!r}" for k, v in sorted(self.values.items()))
        return f"Box({{{inner}}})"


@dataclass(frozen=True, slots=True)
class Cond:
    """A condition a path took at a fork: its text and the variable it constrained ('' for a
    random draw). `negation` is the text of the other side of the same fork: how an answer
    tells that two paths differ only there (`simplify`), whatever the texts' wording."""

    var: str
    text: str
    negation: str = dc_field(default="", compare=False)

    def __str__(self) -> str:
        return self.text


def fork_negations(ways: Iterable[Iterable[Cond]]) -> dict[str, str]:
    """Each condition's text with the other side of its fork, for `simplify`."""
    return {c.text: c.negation for way in ways for c in way if c.negation}


@dataclass(frozen=True, slots=True)
class Branch:
    """One piece of a split: the refined box, its probability weight, the conditions added."""

    box: Box
    weight: Fraction = Fraction(1)
    conditions: tuple[Cond, ...] = ()


# --- splitting -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _VarTest(Pred):
    """A test directly on a variable (what a bit-field test becomes after translation)."""

    var: str
    values: ValueSet
    text: str | None
    neg_text: str | None
    field_name: str



def split(pred: Pred, branch: Branch, env: Env, visit: int = 0
          ) -> tuple[list[Branch], list[Branch]]:
    """The pieces of `branch` where `pred` holds and where it fails (each list disjoint).
    `visit` names the evaluation of a rule's conditions that random draws and per-visit
    assumptions belong to (`visit_flag`); predicates outside rules have neither."""
    if isinstance(pred, Test):
        return _split_test(pred, branch, env)
    if isinstance(pred, _VarTest):
        return _split_var(pred.var, Test(pred.field_name, pred.values, pred.text, pred.neg_text),
                          branch)
    if isinstance(pred, And):
        holds = [branch]
        fails: list[Branch] = []
        for part in pred.parts:
            next_holds: list[Branch] = []
            for b in holds:
                t, f = split(part, b, env, visit)
                next_holds.extend(t)
                fails.extend(f)
            holds = next_holds
            if not holds:
                break
        return holds, fails
    if isinstance(pred, Or):
        fails = [branch]
        holds = []
        for part in pred.parts:
            next_fails: list[Branch] = []
            for b in fails:
                t, f = split(part, b, env, visit)
                holds.extend(t)
                next_fails.extend(f)
            fails = next_fails
            if not fails:
                break
        return holds, fails
    if isinstance(pred, Not):
        t, f = split(pred.part, branch, env, visit)
        return f, t
    if isinstance(pred, Const):
        return ([branch], []) if pred.value else ([], [branch])
    if isinstance(pred, Chance):
        p = pred.p
        if p >= 1:
            return [branch], []
        if p <= 0:
            return [], [branch]
        var = visit_flag(pred.key, visit)
        box = branch.box
        drawn = box.get(var).single_value()
        if drawn is None:  # not drawn at this visit yet: the user's pin holds at every visit
            drawn = box.get(f"?{pred.key}").single_value()
        if drawn is not None:
            return ([branch], []) if drawn else ([], [branch])
        text, neg_text = visit_texts(pred, box.values)
        return (
            [Branch(box.with_(var, IntSet.single(1, 1)), branch.weight * p,
                    (*branch.conditions, Cond("", text, neg_text)))],
            [Branch(box.with_(var, IntSet.single(0, 1)), branch.weight * (1 - p),
                    (*branch.conditions, Cond("", neg_text, text)))],
        )
    if isinstance(pred, Assume):
        return _split_flag(pred, branch, visit)
    if isinstance(pred, Custom):
        values = []
        for name in pred.fields:
            value = _single(name, branch.box, env)
            if value is None:
                if pred.expand is not None:
                    return split(pred.expand(), branch, env, visit)
                return _split_flag(pred, branch, visit)
            values.append(value)
        return ([branch], []) if pred.fn(tuple(values)) else ([], [branch])
    raise TypeError(f"not a predicate: {pred!r}")


def _single(name: str, box: Box, env: Env) -> int | str | None:
    target = env.get(name, name)
    if isinstance(target, BitsExpr):
        known = target.value_in(box)
        return None if known is None else known.single_value()
    if isinstance(target, Moved):
        values = box.get(target.var)
        assert isinstance(values, IntSet)
        value = values.single_value()
        return None if value is None else target.value(value, values.top)
    return box.get(target).single_value()


def pinned(pred: Assume | Custom, read: Callable[[str], object],
           visit: int | None = None) -> int | None:
    """The user's pin of an assumption (1 holds, 0 fails), or None: for an assumption made
    per visit, the one made at this `visit`; then the rule's own pin
    (`?limit@filter:INPUT:3`), else the pin of its kind (`?limit`, what `--assume limit=under`
    sets). `read(var)` gives a flag's exact value or None, wherever the walk keeps flags."""
    names: tuple[str, ...] = (f"?{pred.key}", f"?{pred.kind}")
    if visit is not None and isinstance(pred, Assume) and pred.per_visit:
        names = (visit_flag(pred.key, visit), *names)
    for var in names:
        value = read(var)
        if value is not None:
            return 1 if value else 0
    return None


def _split_flag(pred: Assume | Custom, branch: Branch, visit: int
                ) -> tuple[list[Branch], list[Branch]]:
    """Fork on an assumption unless it is pinned. The condition names the rule's key, what a
    user pins; an assumption made per visit is kept under its visit's flag."""
    box = branch.box
    held = pinned(pred, lambda var: box.get(var).single_value(), visit)
    if held is not None:
        return ([branch], []) if held else ([], [branch])
    shown = f"?{pred.key}"
    if isinstance(pred, Assume) and pred.per_visit:
        var = visit_flag(pred.key, visit)
        text, neg_text = visit_texts(pred, box.values)
    else:
        var, text, neg_text = shown, pred.text, pred.neg_text
    return (
        [Branch(box.with_(var, IntSet.single(1, 1)), branch.weight,
                (*branch.conditions, Cond(shown, text, neg_text)))],
        [Branch(box.with_(var, IntSet.single(0, 1)), branch.weight,
                (*branch.conditions, Cond(shown, neg_text, text)))],
    )


def _label(test: Test, family: Family) -> tuple[str, str]:
    text = test.text or f"{test.field} {describe_set(test.field, test.values, family)}"
    return text, test.neg_text or negate_text(text)


def _split_test(test: Test, branch: Branch, env: Env) -> tuple[list[Branch], list[Branch]]:
    target = env.get(test.field, test.field)
    if isinstance(target, BitsExpr):
        assert isinstance(test.values, BitSet)
        return split(_bits_pred(test, target), branch, env)
    if isinstance(target, Moved):
        assert isinstance(test.values, IntSet)
        text, neg = _label(test, branch.box.family)
        return _split_var(target.var, Test(test.field, target.back(test.values), text, neg),
                          branch)
    return _split_var(target, test, branch)


def _split_var(var: str, test: Test, branch: Branch) -> tuple[list[Branch], list[Branch]]:
    box = branch.box
    current = box.get(var)
    values = test.values
    single = current.single_value()
    if single is not None:
        return ([branch], []) if single in values else ([], [branch])
    inside = current & values  # type: ignore[operator]
    if inside.is_empty:
        return [], [branch]
    outside = current - values  # type: ignore[operator]
    if outside.is_empty:
        return [branch], []
    text, neg = _label(test, box.family)
    return (
        [Branch(box.with_(var, inside), branch.weight,
                (*branch.conditions, Cond(var, text, neg)))],
        [Branch(box.with_(var, outside), branch.weight,
                (*branch.conditions, Cond(var, neg, text)))],
    )


def _bits_pred(test: Test, expr: BitsExpr) -> Pred:
    """Turn a test on a bit field's current value into tests on the variables it comes from."""
    assert isinstance(test.values, BitSet)
    alternatives: list[Pred] = []
    const_mask = expr.const_mask
    for value, mask in test.values.cubes:
        if (expr.xor ^ value) & mask & const_mask:
            continue  # a constant bit disagrees: this cube cannot hold
        parts: list[Pred] = []
        for var, smask in expr.sources:
            bits = mask & smask
            if bits:
                cube = BitSet.cube((value ^ expr.xor) & bits, bits, expr.width)
                parts.append(_VarTest(var, cube, test.text, test.neg_text, test.field))
        alternatives.append(And(tuple(parts)) if parts else TRUE)
    if not alternatives:
        return FALSE
    return alternatives[0] if len(alternatives) == 1 else Or(tuple(alternatives))

