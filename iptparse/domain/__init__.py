"""The value domain of abstract packets: integer ranges, bit cubes, interface name patterns."""

from .bitset import BitSet, Cube
from .intset import IntSet
from .nameset import NameSet, Pattern

__all__ = ["BitSet", "Cube", "IntSet", "NameSet", "Pattern", "ValueSet"]

ValueSet = IntSet | BitSet | NameSet
