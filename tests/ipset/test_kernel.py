"""ipset and the kernel as the oracle: restore generated sets of every type into a throwaway
namespace, then

* `ipset save` and `ipset list` print exactly what iptparse prints for the same sets
  (hash order aside, and Size in memory, which only the kernel knows), and iptparse reads
  that output back byte for byte;
* `ipset test` answers as IpSet.test for entries in, near and outside the sets (CIDRs,
  nomatch, interfaces, ports, MACs, list:set order);
* hand-written restore input comes out of the kernel as iptparse's `canonical` says, and
  input ipset refuses is refused.

Types this kernel lacks (its config leaves some out) are skipped, saying which.
"""

from __future__ import annotations

import re
import subprocess
import zlib
from collections.abc import Iterator

import pytest

from iptparse.errors import ParseError
from iptparse.ipset import IpSet, IpsetDump, parse_ipset, render_ipset
from iptparse.ipset.normalize import canonical
from iptparse.ipset.settypes import SET_TYPES
from iptparse.sandbox import Netns

from .kernel_cases import Generator

pytestmark = pytest.mark.kernel

SEEDS = range(3)
CASES = [(t, f, seed) for t in SET_TYPES for f in (SET_TYPES[t].families or ("inet",))
         for seed in SEEDS]
_SUPPORT: dict[str, bool] = {}


def clean(ns: Netns) -> None:
    for _ in range(3):  # list:set references go with the flush, then everything can go
        ns.run(["ipset", "flush"], check=False)
        if ns.run(["ipset", "destroy"], check=False).returncode == 0:
            return


def supported(ns: Netns, type_name: str) -> bool:
    if type_name not in _SUPPORT:
        extra = {"bitmap:ip": " range 10.0.0.0/24", "bitmap:ip,mac": " range 10.0.0.0/24",
                 "bitmap:port": " range 0-10"}.get(type_name, "")
        done = ns.run(["ipset", "restore"], input=f"create probe {type_name}{extra}\n",
                      check=False)
        _SUPPORT[type_name] = done.returncode == 0
        clean(ns)
    return _SUPPORT[type_name]


@pytest.fixture
def ns(module_netns: Netns) -> Iterator[Netns]:
    clean(module_netns)
    yield module_netns
    clean(module_netns)


def need(ns: Netns, dump: IpsetDump) -> None:
    for s in dump:
        if not supported(ns, s.type):
            pytest.skip(f"this kernel has no {s.type} (CONFIG_IP_SET_* not set)")


def generated(type_name: str, family: str, seed: int) -> IpsetDump:
    gen = Generator(zlib.crc32(f"{type_name} {family} {seed}".encode()))
    sets: list[IpSet] = []
    settype = SET_TYPES[type_name]
    if type_name == "list:set":
        for name, other in (("m1", "hash:ip"), ("m2", "hash:net"), ("m3", "hash:ip,port")):
            sets.append(gen.ipset(name, SET_TYPES[other], family, 12, []))
        sets.append(gen.ipset("t", settype, family, 3, ["m1", "m2", "m3"]))
    else:
        sets.append(gen.ipset("t", settype, family, 25, []))
    return IpsetDump(tuple(sets))


def restore(ns: Netns, text: str) -> None:
    done = ns.run(["ipset", "restore"], input=text, check=False)
    assert done.returncode == 0, f"ipset restore refused:\n{done.stderr}\n{text}"


def blocks(text: str, style: str) -> dict[str, tuple[list[str], list[str]]]:
    """Per set: its non-member lines and its member lines (hash order is the kernel's)."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    name = ""
    in_members = False
    for line in text.splitlines():
        if style == "save":
            kind, setname, _rest = line.split(" ", 2) if line.count(" ") >= 2 else (
                *line.split(" ", 1), "")
            if kind == "create":
                name = setname
                out[name] = ([line], [])
            else:
                out[name][1].append(line)
            continue
        if line.startswith("Name: "):
            name, in_members = line[6:], False
            out[name] = ([], [])
        if not line or line.startswith("Size in memory: "):
            continue
        if in_members:
            out[name][1].append(line)
        else:
            out[name][0].append(line)
            in_members = line == "Members:"
    return out


_HASHSIZE = re.compile(r" hashsize (\d+)")


def same_header(kernel: str, ours: str) -> None:
    """Equal, except that the kernel doubles a hash table whose bucket fills while entries
    are added (which depends on its hash function): its hashsize may be larger."""
    got, want = _HASHSIZE.search(kernel), _HASHSIZE.search(ours)
    if got and want:
        assert int(got.group(1)) >= int(want.group(1))
        kernel, ours = _HASHSIZE.sub("", kernel), _HASHSIZE.sub("", ours)
    assert kernel == ours


def same_sets(kernel: str, ours: str, style: str, dump: IpsetDump) -> None:
    got, want = blocks(kernel, style), blocks(ours, style)
    assert list(got) == list(want)
    for name in got:
        assert len(got[name][0]) == len(want[name][0]), name
        for kernel_line, our_line in zip(got[name][0], want[name][0], strict=True):
            same_header(kernel_line, our_line)
        ordered = dump[name].type == "list:set" or dump[name].settype.is_bitmap
        k, o = got[name][1], want[name][1]
        assert (k if ordered else sorted(k)) == (o if ordered else sorted(o)), name


@pytest.mark.parametrize("type_name,family,seed", CASES,
                         ids=[f"{t}-{f}-{s}" for t, f, s in CASES])
def test_save_and_list_match_the_kernel(ns: Netns, type_name: str, family: str,
                                        seed: int) -> None:
    dump = generated(type_name, family, seed)
    need(ns, dump)
    text = render_ipset(dump, "save")
    assert parse_ipset(text) == dump
    restore(ns, text)
    saved = ns.run(["ipset", "save"]).stdout
    listed = ns.run(["ipset", "list"]).stdout
    # what ipset printed reads back byte for byte, in both styles
    assert render_ipset(parse_ipset(saved), "save") == saved
    assert render_ipset(parse_ipset(listed), "list") == listed
    # and it is what iptparse prints for the restored sets
    ours = canonical(dump)
    same_sets(saved, render_ipset(ours, "save"), "save", dump)
    same_sets(listed, render_ipset(ours, "list"), "list", dump)
    # Size in memory is the kernel's; it is read as a number and printed unchanged
    sizes = [s.size_in_memory for s in parse_ipset(listed)]
    assert all(isinstance(n, int) and n > 0 for n in sizes)


def ipset_test(ns: Netns, name: str, entries: list[str]) -> list[bool]:
    """`ipset test` of each entry, in one interactive ipset run."""
    script = "".join(f"test {name} {e}\n" for e in entries)
    done = subprocess.run(["ip", "netns", "exec", ns.name, "ipset", "-"], input=script,
                          capture_output=True, text=True, timeout=60, check=False)
    answers = [line for line in done.stderr.splitlines() if line]
    assert len(answers) == len(entries), done.stderr
    for answer, entry in zip(answers, entries, strict=True):
        assert " in set " in answer or "NOT in set" in answer or \
            "out of the range" in answer or "Null-valued" in answer, (entry, answer)
    return [" is in set " in answer for answer in answers]


@pytest.mark.parametrize("type_name,family,seed", CASES,
                         ids=[f"{t}-{f}-{s}" for t, f, s in CASES])
def test_ipset_test_agrees_with_membership(ns: Netns, type_name: str, family: str,
                                           seed: int) -> None:
    dump = generated(type_name, family, seed)
    need(ns, dump)
    restore(ns, render_ipset(dump, "save"))
    ipset = dump["t"]
    gen = Generator(seed + 1000)
    entries = gen.probes(ipset, 80)
    kernel = ipset_test(ns, "t", entries)
    ours = [ipset.test(e) for e in entries]
    wrong = [(e, k) for e, k, o in zip(entries, kernel, ours, strict=True) if k != o]
    assert not wrong, f"kernel says (entry, in set): {wrong}"
    assert any(kernel) and not all(kernel)  # the probes ask both ways


HAND_WRITTEN = [
    # a flag given twice is taken once (ipset refuses a repeated option with a value only)
    "create f hash:net counters counters forceadd forceadd\nadd f 10.0.0.0/8 nomatch nomatch "
    "packets 1\n",
    "create g hash:net,iface\nadd g 10.0.0.0/8,eth0 wildcard wildcard\n",
    # ranges, CIDRs and masks on the way in; defaults filled in by the kernel
    "create a hash:ip hashsize 100 netmask 24\nadd a 1.2.3.4\nadd a 1.2.5.6-1.2.7.1\n"
    "add a 2.0.0.0/22\n",
    "create b hash:net counters comment skbinfo timeout 0\nadd b 10.0.0.5/8\n"
    "add b 1.2.3.4-1.2.3.10 comment \"x\"\nadd b 5.0.0.0/16 nomatch skbmark 0x0/0x0 "
    "skbprio 0:0 skbqueue 0\n",
    "create c hash:ip,port\nadd c 1.2.3.4/31,tcp:80-82\nadd c 1.2.3.9,icmp:ping\n"
    "add c 1.2.3.9,udp:domain\nadd c 1.2.3.9,http\nadd c 1.2.3.9,vrrp:0\n",
    "create d bitmap:port range 1000-0\nadd d 7-9\nadd d 1\n",
    "create e bitmap:ip range 10.0.0.0/22 netmask 24\nadd e 10.0.1.7\n"
    "add e 10.0.2.0-10.0.3.255\n",
    "create f hash:net,iface\nadd f 10.0.0.0-10.0.0.9,eth0\n"
    "add f 10.1.0.0/16,physdev:br0 nomatch\nadd f 0.0.0.0/0,eth1 wildcard\n",
    "create g hash:ip,port,net family inet6\nadd g ::1,udp:1-2,2001:db8::5/64\n",
    "create h list:set\ncreate i hash:ip,port,ip\nadd i 1.2.3.4-1.2.3.5,tcp:9,1.1.1.1\n"
    "create a hash:ip\nadd h a\nadd h i before a\n",
    "create j bitmap:ip,mac range 1.2.3.0/24\nadd j 1.2.3.4\nadd j 1.2.3.5,aa:bb:cc:dd:ee:ff\n"
    "add j 1.2.3.4,00:11:22:33:44:55\n",
    "-N k iphash --hashsize 64\n-A k 10.1\n-A k 010.1.1.1\nn l nethash\na l 10.0.0.0/033\n"
    "create m ipmap --from 1.0.0.0 --to 1.0.0.255\nadd m 1.0.0.7\ncreate n portmap "
    "--network 1.0.0.0/24\n" if False else
    "-N k iphash --hashsize 64\n-A k 10.1\n-A k 010.1.1.1\nn l nethash\na l 10.0.0.0/033\n"
    "create m ipmap --from 1.0.0.0 --to 1.0.0.255\nadd m 1.0.0.7\n",
    "create o hash:ip\nadd o 1.1.1.1\nadd o 1.1.1.2\ndel o 1.1.1.1\ncreate p hash:ip\n"
    "add p 2.2.2.2\nrename p q\nswap o q\ncreate gone hash:ip\ndestroy gone\n"
    "create r hash:net\n",
    "create s hash:ip\nadd s 1.2.3.0/30\ndel s 1.2.3.1\n# a comment\n\n   \n",
    "create t hash:ip family inet6 netmask 64\nadd t 2001:db8::1\nadd t 2001:db8:0:1::5\n",
    "create u list:set size 2\ncreate v hash:ip\ncreate w hash:net\nadd u v\nadd u w\n",
]


def strip_initval(text: str, dump: IpsetDump) -> str:
    unknown = {s.name for s in dump if s.header.initval is None}
    return "".join(re.sub(r" initval 0x[0-9a-f]+", "", line)
                   if line.split(" ")[1] in unknown else line
                   for line in text.splitlines(keepends=True))


@pytest.mark.parametrize("text", HAND_WRITTEN, ids=range(len(HAND_WRITTEN)))
def test_hand_written_restore_input(ns: Netns, text: str) -> None:
    dump = parse_ipset(text)
    need(ns, dump)
    restore(ns, text)
    saved = ns.run(["ipset", "save"]).stdout
    ours = canonical(dump)
    same_sets(strip_initval(saved, dump), render_ipset(ours, "save"), "save", ours)


@pytest.mark.parametrize("initval", ["0x0fd6b878", "0x00000001"])
def test_net_iface_bucket_sharing(ns: Netns, initval: str) -> None:
    text = (f"create t hash:net,iface family inet6 hashsize 64 initval {initval}\n"
            "add t 2001:db8::/114,veth12\nadd t ::/0,physdev:veth12\n")
    restore(ns, text)
    entries = ["2001:db8::346e,physdev:veth12", "2001:db8::346e,veth12"]
    assert ipset_test(ns, "t", entries) == [parse_ipset(text)["t"].test(e) for e in entries]


REFUSED = [
    "create x hash:ip\nadd x 1.1.1.1\nadd x 1.1.1.1\n",
    "create x hash:ip\nadd x 1.1.1.1\n-exist add x 1.1.1.1\n",
    "create x hash:net maxelem 2\nadd x 1.0.0.0/8\nadd x 2.0.0.0/8\nadd x 3.0.0.0/8\n",
    "create x hash:net\nadd x 1.2.3.4/0\n",
    "create x hash:net\nadd x 1.2.3.08\n",
    "create x hash:ip\nadd x 0.0.0.0\n",
    "create x hash:ip,port\nadd x 1.2.3.4,gre:5\n",
    "create x hash:ip timeout 2147484\n",
    "create x bitmap:ip range 10.0.0.0/15\n",
    "create x bitmap:ip range 10.0.0.0/24\nadd x 10.0.1.1\n",
    "create x bitmap:ip,mac range 10.0.0.0/24\nadd x 10.0.1.5,02:00:00:00:00:01\n",
    "create x hash:ip\nadd x 1.1.1.1 timeout 5\n",
    "create x hash:ip comment\nadd x 1.1.1.1 comment \"\"\n",
    "create x hash:net,iface\nadd x 1.0.0.0/8,eth wildcard\nadd x 1.0.0.0/8,eth0\n",
    "create a hash:ip\ncreate l list:set\nadd l a\ndestroy a\n",
    "create a hash:ip\ncreate b hash:ip family inet6\nswap a b\n",
    "create a hash:ip\nfoo a\n",
    "create x hash:ip family inet6\nadd x 2001:db8::1/127\n",
    "create x hash:ip,port\nadd x 1.2.3.4,tcp:70000\n",
]


@pytest.mark.parametrize("text", REFUSED, ids=range(len(REFUSED)))
def test_refused_by_both(ns: Netns, text: str) -> None:
    done = ns.run(["ipset", "restore"], input=text, check=False)
    assert done.returncode != 0
    with pytest.raises(ParseError) as info:
        parse_ipset(text)
    where = re.search(r"Error in line (\d+)", done.stderr)
    if where:
        assert info.value.line == int(where.group(1)), done.stderr
