"""Set algebra of the value domain, checked against plain Python sets on small universes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from iptparse.domain import BitSet, IntSet, NameSet

TOP = 63
ranges = st.lists(st.tuples(st.integers(0, TOP), st.integers(0, TOP)), max_size=5)


def as_set(s: IntSet) -> set[int]:
    return set(s)


def make(rs: list[tuple[int, int]]) -> IntSet:
    return IntSet([(min(a, b), max(a, b)) for a, b in rs], TOP)


@given(ranges, ranges)
def test_intset_algebra_matches_python_sets(a: list[tuple[int, int]],
                                            b: list[tuple[int, int]]) -> None:
    x, y = make(a), make(b)
    universe = set(range(TOP + 1))
    assert as_set(x & y) == as_set(x) & as_set(y)
    assert as_set(x | y) == as_set(x) | as_set(y)
    assert as_set(x - y) == as_set(x) - as_set(y)
    assert as_set(~x) == universe - as_set(x)
    assert all((v in x) == (v in as_set(x)) for v in universe)
    assert len(x) == len(as_set(x))


def test_intset_masked_and_prefix() -> None:
    assert IntSet.prefix(0x0A0B0C0D, 24, 32).ranges == ((0x0A0B0C00, 0x0A0B0CFF),)
    holes = IntSet.masked(0x0A000C00, 0xFF00FF00, 32)
    assert 0x0A7F0C42 in holes and 0x0A7F0D42 not in holes
    assert len(holes) == 256 * 256


cubes = st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), max_size=4)


def bits(cs: list[tuple[int, int]]) -> BitSet:
    out = BitSet.empty(4)
    for v, m in cs:
        out = out | BitSet.cube(v, m, 4)
    return out


@given(cubes, cubes)
def test_bitset_algebra_matches_python_sets(a: list[tuple[int, int]],
                                            b: list[tuple[int, int]]) -> None:
    x, y = bits(a), bits(b)
    members = {v for v in range(16) if v in x}
    others = {v for v in range(16) if v in y}
    assert {v for v in range(16) if v in x & y} == members & others
    assert {v for v in range(16) if v in x | y} == members | others
    assert {v for v in range(16) if v in x - y} == members - others
    assert {v for v in range(16) if v in ~x} == set(range(16)) - members
    assert x.size() == len(members)


def test_bitset_known_bits() -> None:
    s = BitSet.cube(0x10000, 0x10000, 32) & BitSet.cube(0, 0x20000, 32)
    assert s.known() == (0x10000, 0x30000)


names = st.sampled_from(["eth0", "eth1", "cali1", "cali12", "calid3", "lo", "", "docker0"])
patterns = st.sampled_from(["eth0", "eth+", "cali+", "cali1+", "calid3", "lo", "docker0", "+"])


@given(st.lists(patterns, min_size=1, max_size=3), st.lists(patterns, max_size=3), names)
def test_nameset_membership(include: list[str], exclude: list[str], name: str) -> None:
    s = NameSet.of(*include).without(NameSet.of(*exclude).include or ())
    def hit(p: str) -> bool:
        return name.startswith(p[:-1]) if p.endswith("+") else name == p
    expected = any(hit(p) for p in include) and not any(hit(p) for p in exclude)
    assert (name in s) == expected
    if expected:
        assert not s.is_empty


def test_nameset_split() -> None:
    anything = NameSet.all()
    cali = NameSet.of("cali+")
    assert (anything & cali) == cali
    rest = anything - cali
    assert "eth0" in rest and "cali7" not in rest
    assert (cali - NameSet.of("ca+")).is_empty
    assert not (cali - NameSet.of("cali123")).is_empty


def test_exact_names_keep_a_trailing_plus() -> None:
    """A device a capture names `eth+` is that one device; `-i eth+` is every eth name."""
    exact, pattern = NameSet.exactly("eth+", "lo"), NameSet.of("eth+", "lo")
    assert "eth+" in exact and "lo" in exact and "eth0" not in exact
    assert "eth0" in pattern and "eth+" in pattern
    assert NameSet.exactly().is_empty
