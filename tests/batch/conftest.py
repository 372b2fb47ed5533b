"""The generated fleet, built once per test session (it only reads the project's corpora)."""

from __future__ import annotations

import pytest

from tests.batch.fleet import Fleet, build


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return build(tmp_path_factory.mktemp("fleet"))
