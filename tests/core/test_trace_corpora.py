"""A packet with every field unknown, walked through every dump of ../shared/corpora.

The kernel tests hold concrete packets to the kernel; this holds the other end: the most open
packet, on real rulesets of both families, on every path, must give paths that read (text and
JSON) and never a traceback. An IPv6 forward walk once crashed describing an address set of
more than 2**63 members. Skipped when the shared folder is absent.
"""

from __future__ import annotations

import json

import pytest

from iptparse.packet import Packet
from iptparse.parser import parse_iptables
from iptparse.report import format_trace
from iptparse.ruleset import Ruleset
from iptparse.trace import trace, trace_json

from ..conftest import SHARED_CORPORA, shared_manifest

ROWS = [r for r in shared_manifest() if r["kind"] in ("iptables-save", "ip6tables-save")]

#: enough paths to reach every kind of rule of these dumps, few enough for the default suite
MAX_PATHS = 300


@pytest.mark.skipif(not ROWS, reason="../shared/corpora is absent")
@pytest.mark.parametrize("row", ROWS, ids=[r["local_path"] for r in ROWS])
def test_an_unknown_packet_walks_every_path_of_every_dump(row: dict[str, str]) -> None:
    text = (SHARED_CORPORA / row["local_path"]).read_text(errors="surrogateescape")
    dump = parse_iptables(text, errors="skip", warnings=[])
    ruleset = Ruleset([dump])
    for kind in ("in", "forward", "out"):
        result = trace(ruleset, Packet(), kind, max_paths=MAX_PATHS)
        assert result.paths, kind
        assert result.truncated == bool(result.message)
        for path in result.paths:
            assert path.verdict in ("ACCEPT", "DROP", "REJECT", "QUEUE", "STOLEN", "UNKNOWN")
            assert path.alternatives
        assert format_trace(result, verbose=True)
        json.dumps(trace_json(result))
