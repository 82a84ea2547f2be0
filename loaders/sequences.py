"""Plain sequence files: one line per user, ``user item item …`` in time order (the S3-Rec format of
``amazon/s3rec-beauty/Beauty.txt``), plus an optional ``{item: [attribute, …]}`` JSON object
(``Beauty_item2attributes.json``). The position in the line is the time: there is no timestamp.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from personarec.loaders.common import Interaction, Reject, Rejects, SourceError, iter_lines, open_text

_CHUNK = 1 << 16


def read_sequences(path: str | Path, rejects: Rejects | None = None) -> Iterator[Interaction]:
    """Interactions in source order; ``order`` is a running counter so ties never reorder a line."""
    rejects = rejects if rejects is not None else Rejects()
    order = 0
    seen_users: set[str] = set()
    for line_no, line in iter_lines(path):
        parts = line.split()
        try:
            if len(parts) < 2:
                raise Reject("empty sequence: a user id and at least one item expected")
            if parts[0] in seen_users:
                raise Reject(f"duplicate user: {parts[0]} already had a line")
        except Reject as exc:
            rejects.add(path, line_no, str(exc), line, "interaction")
            continue
        user = sys.intern(parts[0])
        seen_users.add(user)
        for item in parts[1:]:
            yield Interaction(user, sys.intern(item), None, None, order)
            order += 1


def read_attributes(path: str | Path, rejects: Rejects | None = None) -> Iterator[tuple[str, list[str]]]:
    """``(item, [attribute, …])`` pairs from a JSON object, parsed incrementally in chunks.

    A pair whose value is not a list of ids is rejected (reported with its byte offset as line 0 is
    meaningless in a one-line file: the offset is given as the line number).
    """
    rejects = rejects if rejects is not None else Rejects()
    decoder = json.JSONDecoder()
    with open_text(path) as fh:
        buf = ""
        pos = 0
        consumed = 0  # characters dropped from the front of buf, for offsets in reject messages
        eof = False

        def fill() -> bool:
            nonlocal buf, pos, consumed, eof
            if eof:
                return False
            chunk = fh.read(_CHUNK)
            if not chunk:
                eof = True
                return False
            consumed += pos
            buf = buf[pos:] + chunk
            pos = 0
            return True

        def skip_ws() -> None:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or not fill():
                    return

        def expect(char: str) -> bool:
            nonlocal pos
            skip_ws()
            if pos < len(buf) and buf[pos] == char:
                pos += 1
                return True
            return False

        def value() -> object:
            nonlocal pos
            while True:
                skip_ws()
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError as exc:
                    if fill():
                        continue
                    raise SourceError(f"{path} is not a JSON object of item -> attributes "
                                      f"(at character {consumed + pos}: {exc.msg}).") from None
                # a number or string that ends exactly at the buffer end may continue in the next chunk
                if end == len(buf) and not eof and fill():
                    continue
                pos = end
                return obj

        if not expect("{"):
            raise SourceError(f"{path} is not a JSON object of item -> attributes.")
        if expect("}"):
            return
        while True:
            offset = consumed + pos
            key = value()
            if not isinstance(key, str) or not expect(":"):
                raise SourceError(f"{path} is not a JSON object of item -> attributes (at character {offset}).")
            val = value()
            if isinstance(val, list) and all(isinstance(a, (str, int)) and not isinstance(a, bool) for a in val):
                yield key, [str(a) for a in val]
            else:
                rejects.add(path, offset, "wrong type: attributes must be a list of ids",
                            json.dumps({key: val})[:500], "item")
            if expect(","):
                continue
            if expect("}"):
                return
            raise SourceError(f"{path} is not a JSON object of item -> attributes (at character {consumed + pos}).")
