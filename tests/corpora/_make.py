"""Access to the corpus scripts in corpora/make (plain scripts, not a package) from tests."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from ..conftest import PROJECT_CORPORA

MAKE = PROJECT_CORPORA / "make"


def make_module(name: str) -> ModuleType:
    """Import corpora/make/<name>.py the way the scripts import each other."""
    if str(MAKE) not in sys.path:
        sys.path.insert(0, str(MAKE))
    return importlib.import_module(name)
