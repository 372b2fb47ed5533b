"""Key bindings: the function keys debuggers use, on top of prompt_toolkit's Emacs keys.

F5 continue, F10 next, F11 step, F12 finish (as in most IDE debuggers). Ctrl-C at the prompt
clears the line; while the walk runs it stops the walk (see commands.run_stepping); Ctrl-D on
an empty line quits.
"""

from __future__ import annotations

from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

__all__ = ["FUNCTION_KEYS", "key_bindings"]

FUNCTION_KEYS = {"f5": "continue", "f10": "next", "f11": "step", "f12": "finish"}


def key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    def bind(key: str, line: str) -> None:
        @bindings.add(key)
        def _(event: KeyPressEvent) -> None:
            buffer = event.current_buffer
            buffer.text = line
            buffer.validate_and_handle()

    for key, line in FUNCTION_KEYS.items():
        bind(key, line)
    return bindings
