"""Many packets on many captured nodes: one record per (node, packet), and where the fleet
disagrees.

    from iptparse.batch import discover, evaluate, summarise

    nodes = discover(["fleet/"])                  # node folders (see captures.py for names)
    records = list(evaluate(nodes, open("packets.txt"), path="in", jobs=4))
    report = summarise(records, nodes)            # per packet: counts, who differs, and why

`evaluate` streams records in a fixed order (nodes as given, packets in input order) however it
runs: here, in `jobs` processes, or on a Dask cluster (`dask=ADDRESS` or a Client). Identical
captures are parsed and traced once. A bad capture becomes one `NodeFailure` record; the
batch goes on. A capture that says it leaves rules out (iptables-nft's notes) gets a
`NodeWarning` before its results. The shell (`iptparse batch`) is in `command.py`; nothing
else here prints.
"""

from __future__ import annotations

from .captures import Capture, CaptureFile, discover, role_of
from .evaluate import evaluate, read_packets
from .formats import FORMATS, summary_json, summary_text, writer
from .parallel import BatchError
from .records import (
    Evaluation,
    NodeFailure,
    NodeWarning,
    PathOutcome,
    Record,
    Result,
    RuleHit,
    record_json,
    verdict_label,
)
from .summary import Difference, Divergence, PacketSummary, Summariser, Summary, summarise

__all__ = [
    "FORMATS",
    "BatchError",
    "Capture",
    "CaptureFile",
    "Difference",
    "Divergence",
    "Evaluation",
    "NodeFailure",
    "NodeWarning",
    "PacketSummary",
    "PathOutcome",
    "Record",
    "Result",
    "RuleHit",
    "Summariser",
    "Summary",
    "discover",
    "evaluate",
    "read_packets",
    "record_json",
    "role_of",
    "summarise",
    "summary_json",
    "summary_text",
    "verdict_label",
    "writer",
]
