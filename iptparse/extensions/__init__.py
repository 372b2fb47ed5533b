"""Match and target extensions, one module per family as in iptables' extensions/ folder.

Modules here register themselves on import (see `base.register`); `base.find_match` and
`base.find_target` import them all on first use.
"""

from .base import Extension, OptArg, OptSpec, find_match, find_target, register

__all__ = ["Extension", "OptArg", "OptSpec", "find_match", "find_target", "register"]
