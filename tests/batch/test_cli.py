"""`iptparse batch` through `iptparse.cli.main`: formats, stdin, .gz captures, exit statuses."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from iptparse.cli import main
from tests._cli import run_cli
from tests.conftest import PROJECT_CORPORA

F2B = PROJECT_CORPORA / "fail2ban" / "ipset"
PACKETS = """\
tcp 198.51.100.23:40000 -> 10.0.0.1:22 ctstate=NEW iif=eth0 id=banned
tcp 10.9.9.9:40000 -> 10.0.0.1:22 ctstate=NEW iif=eth0 id=ssh
{"id": "open", "proto": "tcp", "src": "10.9.9.9", "dst": "10.0.0.1"}
"""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _main(*argv: str, stdin: bytes | None = None, err: io.StringIO | None = None,
          monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    return run_cli(["batch", *argv], err=err)


@pytest.fixture
def packets(tmp_path: Path) -> Path:
    path = tmp_path / "packets.txt"
    path.write_text(PACKETS)
    return path


@pytest.fixture
def nodes(tmp_path: Path) -> Path:
    """Two f2b nodes (one of them compressed) and one whose ban list is empty."""
    fleet = tmp_path / "fleet"
    for name in ("alpha", "beta", "gamma"):
        shutil.copytree(F2B, fleet / name)
    for file in (fleet / "beta").glob("ip*tables-save.txt"):
        file.with_name(file.name + ".gz").write_bytes(gzip.compress(file.read_bytes()))
        file.unlink()
    sets = fleet / "gamma" / "ipset-save.txt"
    sets.write_text("".join(line + "\n" for line in sets.read_text().splitlines()
                            if not line.startswith("add f2b-sshd ")))
    (fleet / "gamma" / "ipset-list.txt").unlink()
    return fleet


def test_jsonl(packets: Path, nodes: Path) -> None:
    status, out, err = _main("--packets", str(packets), "--path", "in", "--format", "jsonl",
                             str(nodes))
    assert status == 0 and err == ""
    items = [json.loads(line) for line in out.splitlines()]
    results = [i for i in items if i["type"] == "result"]
    assert [(r["node"], r["packet"]) for r in results] == [
        (n, p) for n in ("alpha", "beta", "gamma") for p in ("banned", "ssh", "open")]
    banned = results[0]
    assert banned["status"] == "ok" and banned["family"] == "ipv4"
    [path] = banned["paths"]
    assert path["decided_by"]["text"].startswith("-A INPUT -p tcp -m multiport --dports 22 -m "
                                                 "set --match-set f2b-sshd src -j REJECT")
    assert path["decided_by"]["rule"] == 1 and path["hits"] == [path["decided_by"]]
    assert results[0]["capture"] == results[3]["capture"] != results[6]["capture"]
    assert len(results[2]["paths"]) > 1  # the open packet can go several ways
    summaries = [i for i in items if i["type"] == "summary"]
    assert [s["packet"] for s in summaries] == ["banned", "ssh", "open"]
    [gamma] = summaries[0]["differs"]
    assert gamma["node"] == "gamma" and gamma["difference"]["kind"] == "ipset"
    assert "198.51.100.23" in gamma["difference"]["text"]
    assert summaries[1]["differs"] == [] and summaries[1]["counts"] == {"ACCEPT": 3}
    assert items[-1] == {"type": "totals", "nodes": 3, "errors": 0, "failed": [],
                         "warnings": []}


def test_csv(packets: Path, nodes: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    status, out, err = _main("--packets", str(packets), "--path", "in", "--format", "csv",
                             "--out", str(target), str(nodes))
    assert status == 0 and out == ""
    rows = list(csv.DictReader(target.open(newline="")))
    first = rows[0]
    assert (first["node"], first["packet"], first["status"], first["table"], first["chain"],
            first["rule"]) == ("alpha", "banned", "ok", "filter", "INPUT", "1")
    assert first["hits"] == "filter:INPUT#1"
    open_rows = [r for r in rows if r["node"] == "alpha" and r["packet"] == "open"]
    assert len(open_rows) > 1 and all(r["conditions"] for r in open_rows)
    assert err.startswith("summary: 3 node(s), 3 packet(s)")  # the summary is for people


def test_table(packets: Path, nodes: Path) -> None:
    status, out, _ = _main("--packets", str(packets), "--path", "in", str(nodes))
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NODE", "PACKET", "VERDICT", "DECIDED", "BY"]
    assert lines[1].split()[:5] == ["alpha", "banned", "REJECT", "filter:INPUT", "#1"]
    assert "summary: 3 node(s), 3 packet(s)" in out
    assert "  gamma: ACCEPT by filter:INPUT #4" in out
    assert ("ipset f2b-sshd differs (missing here: 192.0.2.145, 198.51.100.23, 203.0.113.77)"
            in out)


def test_stdin_capture_and_gz_file(packets: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    dump = (F2B / "iptables-save.txt").read_bytes().replace(
        b"-m set --match-set f2b-sshd src ", b"-s 198.51.100.0/24 ")
    status, out, _ = _main("--packets", str(packets), "--path", "in", "--format", "jsonl", "-",
                           stdin=dump, monkeypatch=monkeypatch)
    assert status == 0
    first = json.loads(out.splitlines()[0])
    assert first["node"] == "stdin" and first["paths"][0]["verdict"] == "REJECT"
    gz = tmp_path / "edge-7.rules.gz"
    gz.write_bytes(gzip.compress(dump))
    status, out2, _ = _main("--packets", str(packets), "--path", "in", "--format", "jsonl",
                            str(gz))
    assert status == 0
    assert json.loads(out2.splitlines()[0])["node"] == "edge-7.rules.gz"
    def results(text: str) -> list[dict[str, object]]:
        items = [json.loads(line) for line in text.splitlines()]
        return [{k: v for k, v in i.items() if k != "node"} for i in items
                if i["type"] == "result"]

    assert results(out) == results(out2) and len(results(out)) == 3


def test_packets_from_stdin(nodes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, _ = _main("--packets", "-", "--path", "in", "--format", "jsonl",
                           str(nodes / "alpha"), stdin=PACKETS.encode(), monkeypatch=monkeypatch)
    assert status == 0 and len([x for x in out.splitlines() if '"result"' in x]) == 3


def test_exit_status_when_a_node_fails(packets: Path, nodes: Path) -> None:
    (nodes / "beta" / "iptables-save.txt.gz").write_bytes(gzip.compress(b"*filter\n-A\n"))
    status, out, _ = _main("--packets", str(packets), "--path", "in", str(nodes))
    assert status == 1
    rows = [line.split()[:3] for line in out.splitlines()]
    assert ["beta", "-", "FAILED"] in rows
    assert f"{nodes}/beta/iptables-save.txt.gz:2:1: error:" in out
    assert ["gamma", "banned", "ACCEPT"] in rows  # the others are evaluated all the same


def test_exit_status_when_a_packet_cannot_be_traced(nodes: Path, tmp_path: Path) -> None:
    v6 = tmp_path / "v6.txt"
    v6.write_text("tcp [2001:db8::1]:4000 -> [2001:db8::2]:22\n")
    status, _, _ = _main("--packets", str(v6), "--path", "in", str(nodes / "alpha"))
    assert status == 0  # alpha has an ip6tables-save dump
    status, out, _ = _main("--packets", str(v6), "--path", "in", str(PROJECT_CORPORA / "seed"))
    assert status == 1 and "ERROR" in out and "the rules given are ipv4 only" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--packets", "{packets}", "-", "--packets", "-"], "standard input cannot hold both"),
    (["--packets", "{missing}", "{node}"], "no such file"),
    (["--packets", "{bad}", "{node}"], "packets line 1"),
    (["--packets", "{packets}", "--out", "/nonexistent/dir/x.csv", "{node}"], "x.csv"),
    (["--packets", "{packets}", "--jobs", "-1", "{node}"], "--jobs must be 0"),
])
def test_input_errors(argv: list[str], message: str, packets: Path, nodes: Path,
                      tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("tcp 10.0.0.1 -> 10.0.0.2 colour=blue\n")
    names = {"packets": packets, "missing": tmp_path / "nope", "bad": bad,
             "node": nodes / "alpha"}
    status, _, err = _main(*(a.format(**names) for a in argv))
    assert status == 1 and message in err and err.startswith("iptparse batch: error:")


def test_usage_errors() -> None:
    err = io.StringIO()
    assert main(["batch", "some-node"], out=io.StringIO(), err=err) == 2
    assert main(["batch", "--packets", "p", "--jobs", "2", "--dask", "x", "n"],
                out=io.StringIO(), err=io.StringIO()) == 2


def test_missing_dask_extra(packets: Path, nodes: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    status, _, err = _main("--packets", str(packets), "--dask", "tcp://127.0.0.1:8786",
                           str(nodes))
    assert status == 1 and "pip install 'iptparse[dask]'" in err


def test_progress_bar_only_on_a_terminal(packets: Path, nodes: Path) -> None:
    terminal = Terminal()
    status, out, shown = _main("--packets", str(packets), "--path", "in", "--format", "jsonl",
                               str(nodes), err=terminal)
    assert status == 0 and "evaluating" in shown
    status, quiet_out, quiet = _main("--packets", str(packets), "--path", "in", "--format",
                                     "jsonl", str(nodes))
    assert quiet == "" and quiet_out == out



def test_a_drop_by_the_stack_is_said_in_every_format(tmp_path: Path) -> None:
    """An expired TTL (concrete: the evaluator) and one that may expire (the interpreter):
    the record names no rule, says why, and keeps the two reasons apart from the rules'."""
    node = tmp_path / "node"
    node.mkdir()
    (node / "iptables-save.txt").write_text(
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        "-A FORWARD -p udp -j DROP\nCOMMIT\n")
    packets = tmp_path / "packets.txt"
    packets.write_text("tcp 10.0.0.1:1 -> 10.0.9.9:80 ttl=1 iif=eth0 oif=eth1 id=expired\n"
                       "tcp 10.0.0.1:1 -> 10.0.9.9:80 ttl=1-2 iif=eth0 oif=eth1 id=maybe\n")
    ttl = "forwarding (the TTL expires: ICMP time exceeded)"
    status, out, _ = _main("--packets", str(packets), "--format", "jsonl", str(node))
    assert status == 0
    results = [json.loads(line) for line in out.splitlines()]
    expired, maybe = (r for r in results if r["type"] == "result")
    assert [(p["verdict"], p["decided_by"], p["stopped"]) for p in expired["paths"]] == [
        ("DROP", None, ttl)]
    assert sorted((p["verdict"], p["stopped"]) for p in maybe["paths"]) == [
        ("ACCEPT", None), ("DROP", ttl)]
    summary = next(r for r in results if r["type"] == "summary" and r["packet"] == "expired")
    assert summary["majority"]["decided_by"] == [None]
    assert summary["majority"]["stopped"] == [ttl]
    status, out, _ = _main("--packets", str(packets), "--format", "table", str(node))
    assert any(line.split()[:3] == ["node", "expired", "DROP"] and line.endswith(f"  by {ttl}")
               for line in out.splitlines()), out
    assert f"  majority (1 node, e.g. node): DROP by {ttl}" in out.splitlines()
    target = tmp_path / "out.csv"
    _main("--packets", str(packets), "--format", "csv", "--out", str(target), str(node))
    rows = list(csv.DictReader(target.open(newline="")))
    assert [(r["packet"], r["verdict"], r["rule"], r["stopped"]) for r in rows
            if r["verdict"] == "DROP"] == [("expired", "DROP", "", ttl),
                                           ("maybe", "DROP", "", ttl)]


LEGACY = "# Warning: iptables-legacy tables present, use iptables-legacy-save to see them"


def test_a_capture_that_leaves_rules_out_is_said_in_every_format(packets: Path, nodes: Path,
                                                                  tmp_path: Path) -> None:
    """alpha's capture was pasted with iptables-nft's standard error: legacy tables are
    loaded there too. One warning record before its results, in the totals and the summary;
    its answers are still those of its rules, and the exit status stays 0."""
    rules = nodes / "alpha" / "iptables-save.txt"
    rules.write_text(rules.read_text() + LEGACY + "\n")
    line = len(rules.read_text().splitlines())
    status, out, _ = _main("--packets", str(packets), "--path", "in", "--format", "jsonl",
                           str(nodes))
    assert status == 0
    items = [json.loads(text) for text in out.splitlines()]
    assert [(i["type"], i["node"]) for i in items[:2]] == [("node-warning", "alpha"),
                                                           ("result", "alpha")]
    warning = items[0]
    assert (warning["file"], warning["line"], warning["status"]) == (str(rules), line,
                                                                    "warning")
    assert warning["warning"].startswith("iptables-legacy tables are loaded on this node")
    assert warning["capture"] == items[1]["capture"]
    assert [i["type"] for i in items].count("node-warning") == 1
    summaries = [i for i in items if i["type"] == "summary"]
    assert summaries[1]["counts"] == {"ACCEPT": 3}  # the same answers as its twin beta's
    assert items[-1]["warnings"] == [{"node": "alpha", "file": str(rules), "line": line,
                                      "warning": warning["warning"]}]
    status, out, _ = _main("--packets", str(packets), "--path", "in", str(nodes))
    assert status == 0
    assert out.splitlines()[1].split()[:4] == ["alpha", "-", "WARNING", f"{rules}:{line}:"]
    assert ("nodes whose captures leave rules out (their answers ignore them):\n"
            f"  alpha: {rules}:{line}: iptables-legacy tables are loaded") in out
    target = tmp_path / "out.csv"
    _main("--packets", str(packets), "--path", "in", "--format", "csv", "--out", str(target),
          str(nodes))
    rows = list(csv.DictReader(target.open(newline="")))
    assert (rows[0]["node"], rows[0]["status"]) == ("alpha", "warning")
    assert rows[0]["error"].startswith(f"{rules}:{line}: iptables-legacy tables are loaded")
    assert [r["status"] for r in rows].count("warning") == 1


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_lenient_skips_lines_with_a_warning_record(packets: Path, nodes: Path, jobs: str) -> None:
    """alpha's rules were captured with kubectl exec 2>&1 (its note comes first), gamma's sets
    with a line cut short: strictly the two nodes fail; with --lenient each line is a warning
    record, and the nodes are evaluated (in worker processes too)."""
    rules = nodes / "alpha" / "iptables-save.txt"
    rules.write_text('Defaulted container "node-shell" out of: node-shell\n' + rules.read_text())
    sets = nodes / "gamma" / "ipset-save.txt"
    sets.write_text(sets.read_text() + "add f2b-sshd 203.0.113.\n")
    status, out, _ = _main("--packets", str(packets), "--path", "in", "--format", "jsonl",
                           "--jobs", jobs, str(nodes))
    items = [json.loads(line) for line in out.splitlines()]
    assert status == 1
    assert [i["node"] for i in items if i["type"] == "node-error"] == ["alpha", "gamma"]
    status, out, _ = _main("--packets", str(packets), "--path", "in", "--format", "jsonl",
                           "--jobs", jobs, "--lenient", str(nodes))
    assert status == 0
    items = [json.loads(line) for line in out.splitlines()]
    warnings = [(i["node"], Path(i["file"]).name, i["line"], i["warning"])
                for i in items if i["type"] == "node-warning"]
    assert warnings == [
        ("alpha", "iptables-save.txt", 1, "skipped: kubectl's note on the container it ran the "
         "command in, pasted with the dump, not a line of it (--lenient skips it)"),
        ("gamma", "ipset-save.txt", len(sets.read_text().splitlines()),
         "skipped: cannot parse 203.0.113.: resolving to IPv4 address failed")]
    assert [i["type"] for i in items].count("node-error") == 0
    results = [i for i in items if i["type"] == "result"]
    assert [(r["node"], r["packet"]) for r in results] == [
        (n, p) for n in ("alpha", "beta", "gamma") for p in ("banned", "ssh", "open")]
    assert results[0]["paths"][0]["verdict"] == "REJECT"  # alpha's rules, read around the note


def test_a_lenient_load_that_fails_still_says_what_it_skipped(packets: Path, nodes: Path
                                                              ) -> None:
    """gamma's rules skip a kubectl line, then name a set no file of gamma holds: the node
    fails, and the skipped line is still a warning record before the failure."""
    rules = nodes / "gamma" / "iptables-save.txt"
    rules.write_text("Unable to use a TTY - input is not a terminal\n" + rules.read_text())
    for name in ("ipset-save.txt", "ipset-list.txt"):
        (nodes / "gamma" / name).unlink(missing_ok=True)
    status, out, _ = _main("--packets", str(packets), "--path", "in", "--format", "jsonl",
                           "--lenient", str(nodes))
    assert status == 1
    gamma = [(i["type"], i.get("line")) for i in map(json.loads, out.splitlines())
             if i.get("node") == "gamma"]
    assert gamma == [("node-warning", 1), ("node-error", None)]
