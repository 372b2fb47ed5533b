"""Sample dumps shared by the ipset tests (in tests/data/ipset/)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "ipset"

#: every set type with most options, as ipset save prints it
ALL_TYPES_SAVE = (DATA / "all_types.save").read_text()
