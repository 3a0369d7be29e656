"""Writing a CSV file block by block, atomically: readers see the old file or the whole new one.

Blocks are written as they come, so memory does not grow with the file. A block's columns are
lists of strings or pyarrow string arrays; pyarrow's are quoted and joined by pyarrow (fields
with a comma, a quote or a line break are quoted, as the ``csv`` module does).

>>> import os, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = os.path.join(tmp, "out.csv")
...     with atomic_csv(path, ["a", "b"]) as write:
...         write([["1", "x,y"], ["2", 'a "b" c']])
...     text = open(path).read()
>>> print(text, end="")
a,b
1,2
"x,y","a ""b"" c"
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from .atomic import _fsync_directory, _new_file_mode
from .csv_reader import DataError


@contextlib.contextmanager
def atomic_csv(
    path: str | os.PathLike, header: Sequence[str]
) -> Iterator[Callable[[Sequence[Sequence[str]]], None]]:
    """A function that writes a block of columns to ``path``; the file appears when the block
    ends without an error, and an error leaves ``path`` as it was and no temporary file."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = _new_file_mode(path)
        fd, temp = tempfile.mkstemp(
            dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
        )
    except OSError as error:
        raise DataError(f"{path}: cannot write ({error.strerror or error})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(_plain_text([[name] for name in header]))

            def write(columns: Sequence[Sequence[str]]) -> None:
                handle.write(_block_bytes(columns))

            yield write
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(error, OSError):
            raise DataError(f"{path}: cannot write ({error.strerror or error})") from None
        raise
    _fsync_directory(directory)


def _block_bytes(columns: Sequence[Sequence[str]]) -> bytes:
    if any(not isinstance(column, list) for column in columns):
        return _arrow_bytes(columns)
    return _plain_text(columns)


def _plain_text(columns: Sequence[Sequence[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(zip(*columns, strict=True))
    return text.getvalue().encode("utf-8")


def _arrow_bytes(columns: Sequence[Sequence[str]]) -> bytes:
    import pyarrow as pa
    import pyarrow.compute as pc

    fields = [
        _arrow_field(pc, pa.array(column, pa.string()) if isinstance(column, list) else column)
        for column in columns
    ]
    lines = pc.binary_join_element_wise(*fields, ",")
    ended = pc.binary_join_element_wise(lines, "\n", "")  # each line and its "\n"
    return _value_bytes(ended)


def _arrow_field(pc, array):
    """A CSV field per cell: quoted (quotes doubled) where it holds a comma, quote or newline."""
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(array, '"', '""'), '"', "")
    return pc.if_else(pc.match_substring_regex(array, '[",\r\n]'), quoted, array)


def _value_bytes(array) -> bytes:
    """The cells of a string array, concatenated, read from its value buffer in one piece."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)
    bounds = offsets[array.offset : array.offset + len(array) + 1]
    return array.buffers()[2][int(bounds[0]) : int(bounds[-1])].to_pybytes()


__all__ = ["atomic_csv"]
