"""Plain sequence files: one line per user, ``user item item …`` in time order (the S3-Rec format of
``amazon/s3rec-beauty/Beauty.txt``), plus an optional ``{item: [attribute, …]}`` JSON object
(``Beauty_item2attributes.json``). The position in the line is the time: there is no timestamp.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from personarec.loaders.common import Interaction, Reject, Rejects, SourceError, iter_lines, open_text, undecodable

_CHUNK = 1 << 16
_TOO_DEEP = object()  # value() result for a value too deeply nested to parse


def parse_sequence(line: str) -> list[str]:
    """``[user, item, item, …]`` of one line, or :class:`Reject`. The per-line rule of :func:`read_sequences`
    (which also rejects a user's second line, :func:`duplicate_user`), also run by the Spark loader."""
    parts = line.split()
    if len(parts) < 2:
        raise Reject("empty sequence: a user id and at least one item expected")
    return parts


def duplicate_user(user: str) -> str:
    """The reject reason of a user's second line (the first line of a user is kept)."""
    return f"duplicate user: {user} already had a line"


def read_sequences(path: str | Path, rejects: Rejects | None = None) -> Iterator[Interaction]:
    """Interactions in source order; ``order`` is a running counter so ties never reorder a line."""
    rejects = rejects if rejects is not None else Rejects()
    order = 0
    seen_users: set[str] = set()
    for line_no, line in iter_lines(path, rejects=rejects, kind="interaction"):
        try:
            parts = parse_sequence(line)
            if parts[0] in seen_users:
                raise Reject(duplicate_user(parts[0]))
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

    A pair whose value is not a list of ids, is nested too deep to parse, or holds bytes that are not
    UTF-8 is rejected (reported with its character offset as the line number: line numbers are
    meaningless in a one-line file); the pairs around it are kept.
    """
    rejects = rejects if rejects is not None else Rejects()
    decoder = json.JSONDecoder()
    # surrogateescape: an invalid byte becomes a distinct lone surrogate, so "3\xff" and "3\xfe" stay two
    # keys to reject instead of one merged "3\ufffd"
    with open_text(path, errors="surrogateescape") as fh:
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

        def skip_nested() -> None:
            """Step over the array/object at ``pos`` without recursion (brackets inside strings ignored)."""
            nonlocal pos
            depth, in_str, escaped = 0, False, False
            while True:
                while pos < len(buf):
                    ch = buf[pos]
                    pos += 1
                    if in_str:
                        if escaped:
                            escaped = False
                        elif ch == "\\":
                            escaped = True
                        elif ch == '"':
                            in_str = False
                    elif ch == '"':
                        in_str = True
                    elif ch in "[{":
                        depth += 1
                    elif ch in "]}":
                        depth -= 1
                        if depth == 0:
                            return
                if not fill():
                    raise SourceError(f"{path} is not a JSON object of item -> attributes "
                                      f"(it ends inside a value that starts before character {consumed + pos}).")

        def value() -> object:
            nonlocal pos
            while True:
                skip_ws()
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                except RecursionError:
                    if pos < len(buf) and buf[pos] in "[{":
                        skip_nested()
                        return _TOO_DEEP
                    raise
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
            if val is _TOO_DEEP:
                rejects.add(path, offset, "too deeply nested", json.dumps(key), "item")
            elif isinstance(val, list) and all(isinstance(a, (str, int)) and not isinstance(a, bool) for a in val):
                attrs = [str(a) for a in val]
                if undecodable(key) or any(undecodable(a) for a in attrs):
                    rejects.add(path, offset, "invalid UTF-8", json.dumps({key: val}, ensure_ascii=False)[:500],
                                "item")
                else:
                    yield key, attrs
            else:
                rejects.add(path, offset, "wrong type: attributes must be a list of ids",
                            json.dumps({key: val})[:500], "item")
            if expect(","):
                continue
            if expect("}"):
                return
            raise SourceError(f"{path} is not a JSON object of item -> attributes (at character {consumed + pos}).")
