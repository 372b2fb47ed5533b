"""The ipset parser against `ipset restore` on mutated input: generated sets with a word
dropped, replaced by an edge value or a stray option, a word, a line or a header flag doubled,
an entry left out, must be refused by both (iptparse with an error, never a traceback) or come
out of `ipset save` as iptparse's canonical form says.

This is how flags given twice (`counters counters`, `nomatch nomatch`) and a bitmap:ip,mac
entry out of range (a traceback) were found. Entry timeouts count down in the kernel, so they
are compared as present, not by value.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Iterator

import pytest

from iptparse.errors import ParseError
from iptparse.ipset import parse_ipset, render_ipset
from iptparse.ipset.normalize import canonical
from iptparse.ipset.settypes import SET_TYPES
from iptparse.sandbox import Netns

from .test_kernel import clean, generated, same_sets, strip_initval, supported

pytestmark = pytest.mark.kernel

CASES = 400
EDGES = ("0", "1", "-1", "65535", "65536", "4294967295", "4294967296", "0x10", "010",
         "255.255.255.255", "::", "1.2.3.4/33", "abc", "tcp:0", "udp:65535", "icmp:255/255",
         "1.2.3.0/24", "10.0.0.1-10.0.0.9", "02:00:00:00:00:01", "eth0", "physdev:eth0")
OPTIONS = ("timeout", "counters", "comment", "skbinfo", "nomatch", "packets", "bytes",
           "forceadd", "bucketsize", "hashsize", "maxelem", "netmask", "markmask", "range")


def mutate(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    at = rng.randrange(len(lines))
    words = lines[at].split(" ")
    kind = rng.randrange(8)
    flags = [w for w in lines[0].split(" ") if w in ("counters", "comment", "skbinfo")]
    if kind == 6 and len(lines) > 1:  # an entry left out: the rest still loads
        del lines[rng.randrange(1, len(lines))]
        return "\n".join(lines) + "\n"
    if kind == 7 and flags:  # a flag of the header given again
        lines[0] += " " + rng.choice(flags)
        return "\n".join(lines) + "\n"
    if kind == 0 and len(words) > 2:
        del words[rng.randrange(2, len(words))]
    elif kind == 1 and len(words) > 2:
        words[rng.randrange(2, len(words))] = rng.choice(EDGES)
    elif kind == 2 and len(words) > 3:
        words.insert(rng.randrange(3, len(words) + 1), words[rng.randrange(3, len(words))])
    elif kind == 3:
        lines.insert(rng.randrange(len(lines) + 1), lines[at])
    elif kind == 4 and len(words) > 2:
        words.insert(rng.randrange(2, len(words) + 1), rng.choice(OPTIONS))
    else:
        words.append(rng.choice(EDGES))
    lines[at] = " ".join(words)
    return "\n".join(lines) + "\n"


_TIMEOUT = re.compile(r"^(add \S+ .*? timeout )\d+", re.M)


def _timeouts_as_present(text: str) -> str:
    return _TIMEOUT.sub(r"\1T", text)


@pytest.fixture
def ns(module_netns: Netns) -> Iterator[Netns]:
    clean(module_netns)
    yield module_netns
    clean(module_netns)


def test_mutated_sets_are_read_as_ipset_reads_them(ns: Netns) -> None:
    rng = random.Random(2026)
    kinds = [t for t in SET_TYPES if t != "list:set" and supported(ns, t)]
    compared = refused = 0
    for _ in range(CASES):
        kind = rng.choice(kinds)
        family = rng.choice(SET_TYPES[kind].families or ("inet",))
        dump = generated(kind, family, zlib.crc32(str(rng.random()).encode()) % 1000)
        head = render_ipset(dump, "save").splitlines()[:5]
        text = mutate(rng, "\n".join(head) + "\n")
        clean(ns)
        done = ns.run(["ipset", "restore"], input=text, check=False)
        try:
            ours = canonical(parse_ipset(text))
        except ParseError:
            assert done.returncode != 0, text
            refused += 1
            continue
        assert done.returncode == 0, (text, done.stderr)
        saved = strip_initval(ns.run(["ipset", "save"]).stdout, ours)
        same_sets(_timeouts_as_present(saved),
                  _timeouts_as_present(render_ipset(ours, "save")), "save", ours)
        compared += 1
    assert compared >= 50 and refused >= 100, (compared, refused)
