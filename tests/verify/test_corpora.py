"""`iptparse verify` over every dump of the project's corpora (issue 7 on real layouts).

Each `iptables-save.txt` / `ip6tables-save.txt` (and `iptables -S` output, `iptables-S.txt`)
under corpora/ is loaded into a kernel lab with
the `ipset-save.txt` beside it, and a bounded number of packets sampled from its own rules must
agree wherever iptparse models them. The corpora are being extended while this runs: what
exists at collection time is what is checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from iptparse.errors import ParseWarning
from iptparse.verify.run import verify_dump

from ..conftest import PROJECT_CORPORA, require_kernel
from ._lab import disagreements, lab_namespaces

pytestmark = pytest.mark.kernel

SAMPLES = 24
DUMPS = sorted(p for name in ("iptables-save.txt", "ip6tables-save.txt", "iptables-S.txt")
               for p in PROJECT_CORPORA.rglob(name))


@pytest.mark.parametrize("dump", DUMPS, ids=[str(p.relative_to(PROJECT_CORPORA)) for p in DUMPS])
def test_corpus_dump_agrees_with_the_kernel(dump: Path) -> None:
    require_kernel()
    sets = dump.parent / "ipset-save.txt"
    ipsets = [(str(sets), sets.read_text())] if sets.is_file() else []
    report = verify_dump(dump.read_text(), name=str(dump.relative_to(PROJECT_CORPORA)),
                         ipsets=ipsets, samples=SAMPLES, seed=0)
    assert report.ok, disagreements(report)
    assert len(report.comparisons) == SAMPLES
    assert lab_namespaces() == set()


def test_there_are_corpora() -> None:
    assert DUMPS, f"no dumps under {PROJECT_CORPORA}"


def test_a_listing_is_verified_in_lenient_mode_too() -> None:
    """With --lenient the kernel gets what iptparse read, printed in iptables-save layout
    (iptables-restore cannot read `iptables -S` output)."""
    require_kernel()
    listing = PROJECT_CORPORA / "firewalld" / "iptables-S.txt"
    sets = listing.parent / "ipset-save.txt"
    text = listing.read_text().replace("-A INPUT_direct", "-A INPUT_direct --bogus 1", 1)
    warnings: list[ParseWarning] = []
    report = verify_dump(text, name="iptables-S.txt", ipsets=[(str(sets), sets.read_text())],
                         samples=8, seed=1, warnings=warnings)
    assert len(warnings) == 1 and "--bogus" in warnings[0].line_text
    assert report.ok, disagreements(report)
    assert lab_namespaces() == set()
