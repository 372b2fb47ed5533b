"""Sets of interface names, described by exact names and `prefix+` wildcards.

iptables matches interfaces by exact name or by prefix (`-i cali+`), and a path split on such a
match needs "names matching one of these patterns, minus names matching those". That form is
closed under intersection and under removing a union of patterns, which is all a split needs.
The empty name stands for "no interface" (the output interface in PREROUTING, for instance).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["IFNAME_MAX", "NameSet", "Pattern"]

IFNAME_MAX = 15  # IFNAMSIZ - 1

Pattern = tuple[str, bool]  # (text, is_prefix)


def pattern(text: str) -> Pattern:
    """`cali+` → ('cali', True); `eth0` → ('eth0', False)."""
    if text.endswith("+"):
        return (text[:-1], True)
    return (text, False)


def _covers(outer: Pattern, inner: Pattern) -> bool:
    """Every name matching `inner` matches `outer`."""
    text, is_prefix = outer
    if is_prefix:
        return inner[0].startswith(text)
    return (not inner[1] and inner[0] == text) or (
        inner[1] and len(inner[0]) == IFNAME_MAX and inner[0] == text
    )


def _meet(a: Pattern, b: Pattern) -> Pattern | None:
    """The pattern matching exactly the names both match, or None when none does."""
    if _covers(a, b):
        return b
    if _covers(b, a):
        return a
    return None


def _matches(p: Pattern, name: str) -> bool:
    return name.startswith(p[0]) if p[1] else name == p[0]


class NameSet:
    """Names matching any `include` pattern (all names when include is None) and no
    `exclude` pattern."""

    __slots__ = ("exclude", "include")

    include: tuple[Pattern, ...] | None
    exclude: tuple[Pattern, ...]

    def __init__(self, include: Iterable[Pattern] | None = None,
                 exclude: Iterable[Pattern] = ()) -> None:
        inc = None if include is None else tuple(sorted(set(include)))
        exc = tuple(sorted(set(exclude)))
        if inc is not None:
            # drop includes wholly removed, and excludes that touch no include
            inc = tuple(p for p in inc if not any(_covers(x, p) for x in exc))
            exc = tuple(x for x in exc if any(_meet(x, p) is not None for p in inc))
            # an include covered by another include is redundant
            inc = tuple(p for p in inc if not any(q != p and _covers(q, p) for q in inc))
        else:
            exc = tuple(x for x in exc if not any(y != x and _covers(y, x) for y in exc))
        self.include = inc
        self.exclude = exc

    @classmethod
    def all(cls) -> NameSet:
        return cls(None, ())

    @classmethod
    def of(cls, *texts: str) -> NameSet:
        """Names matching any of the iptables-style patterns given (`eth0`, `cali+`)."""
        return cls([pattern(t) for t in texts], ())

    @classmethod
    def single(cls, name: str) -> NameSet:
        return cls([(name, False)], ())

    @classmethod
    def exactly(cls, *names: str) -> NameSet:
        """These device names and no other: names a capture gives (a route's devices, a
        sysctl's interfaces, a bridge), where a trailing `+` is part of the name, not the
        wildcard of `-i eth+`."""
        return cls([(name, False) for name in names], ())

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if any(_matches(x, name) for x in self.exclude):
            return False
        return self.include is None or any(_matches(p, name) for p in self.include)

    @property
    def is_empty(self) -> bool:
        return self.include is not None and not self.include

    def __bool__(self) -> bool:
        return not self.is_empty

    @property
    def is_all(self) -> bool:
        return self.include is None and not self.exclude

    def single_value(self) -> str | None:
        if self.include is not None and len(self.include) == 1 and not self.exclude:
            text, is_prefix = self.include[0]
            if not is_prefix or len(text) == IFNAME_MAX:
                return text
        return None

    def __and__(self, other: NameSet) -> NameSet:
        if self.include is None:
            include = other.include
        elif other.include is None:
            include = self.include
        else:
            include = tuple(
                m for a in self.include for b in other.include if (m := _meet(a, b)) is not None
            )
        return NameSet(include, (*self.exclude, *other.exclude))

    def without(self, patterns: Iterable[Pattern]) -> NameSet:
        """This set minus every name matching one of `patterns`."""
        return NameSet(self.include, (*self.exclude, *patterns))

    def __sub__(self, other: NameSet) -> NameSet:
        """Difference with a set of the form `include` only (what interface tests build)."""
        if other.exclude:
            raise ValueError("can only subtract a plain union of patterns")
        if other.include is None:
            return NameSet((), ())
        return self.without(other.include)

    def issubset(self, other: NameSet) -> bool:
        return not (self - other)

    def example(self) -> str | None:
        """A name in the set (for drawing concrete packets), or None when empty."""
        if self.include is None:
            candidates: list[Pattern] = [("eth0", False), ("x", True)]
        else:
            candidates = list(self.include)
        for text, is_prefix in candidates:
            options = [text] if not is_prefix else [text, text + "0", text + "x9", text + "q"]
            for name in options:
                if len(name) <= IFNAME_MAX and name in self:
                    return name
        return None

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, NameSet) and self.include == other.include
                and self.exclude == other.exclude)

    def __hash__(self) -> int:
        return hash((self.include, self.exclude))

    def __repr__(self) -> str:
        def show(p: Pattern) -> str:
            return p[0] + ("+" if p[1] else "")

        inc = "*" if self.include is None else "|".join(show(p) for p in self.include) or "∅"
        exc = "".join(f" -{show(p)}" for p in self.exclude)
        return f"NameSet({inc}{exc})"

    def __reduce__(self) -> tuple[object, ...]:
        return (NameSet, (self.include, self.exclude))
