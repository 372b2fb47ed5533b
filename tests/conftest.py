"""Shared fixtures: where the public corpora are, and the kernel sandbox gate.

Tests that need root, network namespaces and the iptables/ipset tools are marked `kernel`.
They skip on a machine without them, except when IPTPARSE_REQUIRE_KERNEL=1 (set by .ci/run):
then a missing tool is a failure, so CI can never pass by skipping the kernel checks.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from iptparse.sandbox import Netns, missing_tools

ROOT = Path(__file__).resolve().parent.parent
PROJECT_CORPORA = ROOT / "corpora"
SHARED_CORPORA = Path(
    os.environ.get("IPTPARSE_SHARED_CORPORA", ROOT.parent / "shared" / "corpora")
)


def shared_manifest() -> list[dict[str, str]]:
    """MANIFEST.tsv rows of ../shared/corpora, or [] when the folder is absent."""
    manifest = SHARED_CORPORA / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    with manifest.open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def shared_files(*kinds: str) -> list[Path]:
    return [SHARED_CORPORA / row["local_path"] for row in shared_manifest()
            if row["kind"] in kinds]


def require_kernel(*tools: str) -> None:
    """Skip (fail under IPTPARSE_REQUIRE_KERNEL=1) without the sandbox, or without `tools`
    beyond its own (nft, iptables-nft)."""
    missing = missing_tools() + [t for t in missing_tools(tools) if t != "root"]
    if missing:
        message = f"kernel sandbox unavailable: missing {', '.join(missing)}"
        if os.environ.get("IPTPARSE_REQUIRE_KERNEL") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def netns() -> Iterator[Netns]:
    """A fresh network namespace, deleted after the test whatever happens."""
    require_kernel()
    with Netns("iptp-test") as ns:
        yield ns


@pytest.fixture(scope="module")
def module_netns() -> Iterator[Netns]:
    """One namespace shared by a module's tests (each test leaves it empty)."""
    require_kernel()
    with Netns("iptp-test") as ns:
        yield ns
