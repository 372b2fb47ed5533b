"""The fleet run three ways (this process, `--jobs 2`, a Dask LocalCluster) gives the same
output, byte for byte and in the same order."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iptparse.batch import BatchError, discover, evaluate, parallel, read_packets
from iptparse.batch.evaluate import auto_jobs
from iptparse.cli import main
from tests.batch.fleet import PACKETS, Fleet


def _run(fleet: Fleet, packets_file: Path, *extra: str, fmt: str = "jsonl") -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["batch", "--packets", str(packets_file), "--path", "in", "--format", fmt,
                   *extra, str(fleet.root)], out=out, err=err)
    return status, out.getvalue()


@pytest.fixture(scope="module")
def packets_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("packets") / "packets.txt"
    path.write_text(PACKETS)
    return path


@pytest.fixture(scope="module")
def reference(fleet: Fleet, packets_file: Path) -> tuple[int, str]:
    return _run(fleet, packets_file)


def test_reference_run(reference: tuple[int, str], fleet: Fleet) -> None:
    status, text = reference
    assert status == 1  # the fleet has broken nodes
    lines = text.splitlines()
    assert sum('"type": "result"' in line for line in lines) == (200 - len(fleet.broken)) * 6
    assert sum('"type": "node-error"' in line for line in lines) == len(fleet.broken)


def test_jobs_2_gives_the_same_output(fleet: Fleet, packets_file: Path,
                                      reference: tuple[int, str]) -> None:
    assert _run(fleet, packets_file, "--jobs", "2") == reference


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=":0")
    try:
        yield cluster
    finally:
        cluster.close()


def test_dask_gives_the_same_output(fleet: Fleet, packets_file: Path,
                                    reference: tuple[int, str], dask_cluster: Any) -> None:
    assert _run(fleet, packets_file, "--dask", dask_cluster.scheduler_address) == reference


def test_lenient_gives_the_same_output_three_ways(fleet: Fleet, packets_file: Path,
                                                 dask_cluster: Any) -> None:
    """The fleet's broken nodes read leniently: fewer fail, their skipped lines are warning
    records, and the output is the same here, in processes and on Dask."""
    status, here = _run(fleet, packets_file, "--lenient")
    lines = here.splitlines()
    failed = sum('"type": "node-error"' in line for line in lines)
    assert failed < len(fleet.broken)
    assert any('"warning": "skipped: ' in line for line in lines)
    assert _run(fleet, packets_file, "--lenient", "--jobs", "2") == (status, here)
    assert _run(fleet, packets_file, "--lenient", "--dask",
                dask_cluster.scheduler_address) == (status, here)


def test_dask_client_through_the_library(fleet: Fleet, dask_cluster: Any) -> None:
    distributed = pytest.importorskip("distributed")
    packets = read_packets(PACKETS.splitlines())
    nodes = discover([fleet.root])[::10]  # every tenth node, failed ones included
    with distributed.Client(dask_cluster) as client:
        remote = list(evaluate(nodes, packets, "in", dask=client))
        assert client.status == "running"  # a Client we were given is left open
    assert remote == list(evaluate(nodes, packets, "in"))
    assert len(remote) > len(nodes)


def test_many_slices_of_one_capture(fleet: Fleet) -> None:
    """Few captures and many workers: packets are cut in slices, results put back in order."""
    lines = [f"tcp 10.1.{i // 250}.{i % 250}:40000 -> 10.0.0.1:{20 + i % 10} ctstate=NEW "
             f"iif=eth0" for i in range(40)]
    node = fleet.root / "f2b-000"
    local = list(evaluate([node], lines, "in"))
    parallel = list(evaluate([node], lines, "in", jobs=3))
    assert parallel == local and len(local) == 40
    assert [r.packet for r in local] == [f"#{i}" for i in range(1, 41)]  # type: ignore[union-attr]


def test_unreachable_scheduler_is_a_clear_error(fleet: Fleet,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", 1)
    with pytest.raises(BatchError, match="cannot reach the Dask scheduler"):
        list(evaluate([fleet.root / "f2b-000"], ["tcp 10.0.0.2 -> 10.0.0.1"], "in",
                      dask="tcp://127.0.0.1:9"))


def test_freezing_the_heap_changes_nothing(fleet: Fleet, packets_file: Path,
                                           reference: tuple[int, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker freezes what its walks grew every FREEZE_EVERY packets: here after each."""
    import gc

    from iptparse.batch import worker

    monkeypatch.setattr(worker, "FREEZE_EVERY", 1)
    gc.unfreeze()
    try:
        assert _run(fleet, packets_file) == reference
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_jobs_0_runs_a_small_fleet_here(fleet: Fleet, packets_file: Path,
                                        reference: tuple[int, str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`--jobs 0` on the test fleet: processes would only add their start (1.3 s against
    0.4 s), so it runs in this process, with the same output."""
    def no_processes(jobs: int) -> None:
        raise AssertionError(f"{jobs} processes started for a small fleet")

    monkeypatch.setattr(parallel, "ProcessRunner", no_processes)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert _run(fleet, packets_file, "--jobs", "0") == reference


@pytest.mark.parametrize("sizes,packets,cpus,expected", [
    ([2_000] * 200, 6, 2, 1),           # a fleet of small nodes: done before processes start
    ([13_000_000], 100, 2, 1),          # one big node, few packets: each worker would parse it
    ([13_000_000], 5_000, 2, 2),        # one big node, many packets: shared evaluations pay
    ([13_000_000] * 8, 100, 4, 4),      # many big nodes: parsing is shared
    ([13_000_000] * 8, 100, 1, 1),      # one CPU
    ([], 100, 4, 1),                    # every node failed to read
])
def test_auto_jobs(sizes: list[int], packets: int, cpus: int, expected: int) -> None:
    assert auto_jobs(sizes, packets, cpus) == expected
