"""Strings that are not text: refused where they enter, not where they fail.

Python lets a lone surrogate (U+D800 to U+DFFF) into a ``str``: JSON's ``"\\ud800"`` escape
decodes to one, and so does a command-line argument that is not UTF-8 (Python decodes argv
with ``surrogateescape``). Such a string cannot be encoded as UTF-8, so it fails much later,
wherever it is first encoded: in the store, in an event's hash, in a response, each a
traceback. The request handlers and the command line call these checks first and answer with
an error that says which value is wrong, without repeating the value (it may be a secret).
"""

from __future__ import annotations

import json
from typing import Any


def bad_offset(text: str) -> int | None:
    """The index of ``text``'s first character UTF-8 cannot encode, or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return err.start
    return None


def is_text(value: Any) -> bool:
    """Whether every string in a JSON value (keys included) encodes as UTF-8."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except (ValueError, RecursionError):  # a value json.loads made always dumps back
        return False
    return True


def decode_file(data: bytes, file: str) -> str:
    """A file's bytes as text; a SpecError at the line and column of the first byte that is not
    UTF-8 (a file saved as Latin-1 or UTF-16, a binary file), never a traceback."""
    from opsbook.errors import Problem, SpecError

    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        column = err.start - (before.rfind(b"\n") + 1) + 1
        byte = data[err.start]
        message = f"not UTF-8 text (byte 0x{byte:02x} at column {column}); save it as UTF-8"
        raise SpecError([Problem(file, line, "", message)]) from None
