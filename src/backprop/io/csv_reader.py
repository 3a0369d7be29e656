"""Reading CSV tables: pyarrow's reader when it is installed (the ``[cli]`` extra), else the
standard library's ``csv`` module; both check the same things and say the same things.

A problem is a ``DataError`` (a ValueError) whose one-line message names the file and, where it
applies, the line and column: a missing or empty file, a header without rows, an empty or
repeated column name, a row with too few or too many fields, text that is not UTF-8.

>>> import os, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = os.path.join(tmp, "t.csv")
...     with open(path, "w") as handle:
...         _ = handle.write("x,label\\n1.5,a\\n\\n2,b\\n")
...     table = read_table(path)
...     X = table.numeric(["x"])
...     where = table.where(1, "x")
>>> table.header, X.ravel().tolist(), table.column("label"), where.endswith("line 4, column 'x'")
(['x', 'label'], [1.5, 2.0], ['a', 'b'], True)
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np


class DataError(ValueError):
    """Bad data in a CSV file; the message is one line naming the file (and line, column)."""


@dataclass
class Table:
    """The header and the cells, column by column (lists of strings, or pyarrow string arrays).

    ``lines`` holds each row's line number in the file; when it is None (the fast reader does
    not count lines) a line is found by reading the file again, which only error messages need.
    ``first_row`` is the file's index of the table's first row (a block of a larger file).
    """

    path: str
    header: list[str]
    columns: list[Sequence[str]]
    lines: Sequence[int] | None = None
    first_row: int = 0

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def index(self, name: str) -> int:
        try:
            return self.header.index(name)
        except ValueError:
            raise DataError(
                f"{self.path}: no column {name!r} (columns: {', '.join(self.header)})"
            ) from None

    def _text(self, name: str) -> bool:
        cells = self.columns[self.index(name)]
        return isinstance(cells, list) or str(cells.type) == "string"

    def column(self, name: str) -> list[str]:
        cells = self.columns[self.index(name)]
        return cells if isinstance(cells, list) else cells.to_pylist()

    def select(self, names: Sequence[str]) -> Table:
        """A table of the named columns only: the other columns' cells can then be freed."""
        columns = [self.columns[self.index(name)] for name in names]
        return Table(self.path, list(names), columns, self.lines, self.first_row)

    def missing(self, names: Iterable[str]) -> list[str]:
        present = set(self.header)
        return [name for name in names if name not in present]

    def numeric(self, names: Sequence[str]) -> np.ndarray:
        """The named columns as a float64 (n_rows, len(names)) array; every cell finite."""
        X = np.empty((len(self), len(names)), dtype=np.float64)
        for j, name in enumerate(names):
            X[:, j] = self._numeric_column(name)
        return X

    def _numeric_column(self, name: str) -> np.ndarray:
        values = _arrow_floats(self.columns[self.index(name)])
        if values is None:
            try:
                values = np.asarray(self.column(name), dtype=np.float64)
            except (TypeError, ValueError):
                values = None
        if values is not None and np.isfinite(values).all():
            return values
        if not self._text(name):  # parsed by pyarrow: the cells as written are in the file
            raise _plain_error(self.path, ValueError("a bad number"), [name], [])
        for row, cell in enumerate(self.column(name)):  # the slow path finds the first bad cell
            self.cell_number(cell, row, name, "feature values")
        raise AssertionError("unreachable: a bad cell was not found")  # pragma: no cover

    def where(self, row: int, name: str) -> str:
        line = (
            self.lines[row]
            if self.lines is not None
            else line_of_row(self.path, row + self.first_row)
        )
        return f"{self.path}: line {line}, column {name!r}"

    def cell_number(self, cell: str, row: int, name: str, what: str) -> float:
        """A finite float from one cell, or a DataError pointing at it."""
        if not cell.strip():
            raise DataError(f"{self.where(row, name)}: empty cell ({what} cannot be missing)")
        try:
            value = float(cell)
        except ValueError:
            raise DataError(
                f"{self.where(row, name)}: {cell!r} is not a number ({what} must be numeric)"
            ) from None
        if math.isnan(value):
            raise DataError(f"{self.where(row, name)}: NaN ({what} cannot be missing)")
        if not math.isfinite(value):
            raise DataError(f"{self.where(row, name)}: {cell!r} is not a finite number")
        return value


def _arrow_floats(cells) -> np.ndarray | None:
    """A pyarrow column as finite floats, or None (a list, or a cell it cannot take as one)."""
    if isinstance(cells, list):
        return None
    import pyarrow as pa

    try:
        values = cells.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if values.null_count:
        return None
    return values.to_numpy()


def _open(path: str):
    return open(path, encoding="utf-8-sig", newline="")


def read_csv(path: str | os.PathLike) -> Table:
    """Read a CSV file with a header row; blank lines are skipped, every row needs every field."""
    header, blocks = plain_blocks(path, block_rows=None)
    return next(blocks)


def plain_blocks(
    path: str | os.PathLike, block_rows: int | None
) -> tuple[list[str], Iterator[Table]]:
    """The header, and the rows in tables of ``block_rows`` rows (all in one when None).

    The header is checked at once; the rows as the blocks are read, each a DataError naming
    the line. A file with a header and no rows is refused when the first block is asked for.
    """
    path = os.fspath(path)
    header, _ = read_header(path)
    return header, _plain_rows(path, header, block_rows)


def read_header(path: str) -> tuple[list[str], list[str]]:
    """(the header's names, stripped and checked; the fields as written)."""
    with _reading(path, None), _open(path) as handle:
        reader = csv.reader(handle, strict=True)
        with _reading(path, reader):
            written = next((row for row in reader if row), None)
        if written is None:
            raise DataError(f"{path}: the file is empty (expected a header row and data rows)")
        header = [name.strip() for name in written]
        line = reader.line_num
    for i, name in enumerate(header, start=1):
        if not name:
            raise DataError(f"{path}: line {line}: header field {i} is empty (columns need names)")
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(f"{path}: line {line}: column {name!r} appears twice in the header")
        seen.add(name)
    return header, written


def _plain_rows(path: str, header: list[str], block_rows: int | None) -> Iterator[Table]:
    with _reading(path, None), _open(path) as handle:
        reader = csv.reader(handle, strict=True)
        rows, lines, first_row = [], [], 0
        with _reading(path, reader):
            next(row for row in reader if row)
            line = reader.line_num
            for row in reader:
                if not row:
                    continue  # a blank line
                if len(row) != len(header):
                    raise DataError(
                        f"{path}: line {reader.line_num} has {len(row)} fields, "
                        f"the header (line {line}) has {len(header)}"
                    )
                rows.append(row)
                lines.append(reader.line_num)
                if len(rows) == block_rows:
                    yield _from_rows(path, header, rows, lines, first_row)
                    first_row += len(lines)
                    rows, lines = [], []
    if not rows and not first_row:
        raise DataError(f"{path}: has a header but no data rows")
    if rows:
        yield _from_rows(path, header, rows, lines, first_row)


def _from_rows(path, header, rows, lines, first_row) -> Table:
    columns = [list(column) for column in zip(*rows, strict=True)]
    rows.clear()  # the cells live on in the columns; the row lists are not needed
    return Table(path, header, columns, lines, first_row)


@contextlib.contextmanager
def _reading(path: str, reader) -> Iterator[None]:
    """Turn what can go wrong while reading into one-line DataErrors."""
    try:
        yield
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a CSV file") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise DataError(f"{path}: line {reader.line_num}: not valid CSV ({error})") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from None


def line_of_row(path: str, row: int) -> int:
    """The line on which data row ``row`` (from 0) of the file begins, by reading it again."""
    with _open(path) as handle:
        reader = csv.reader(handle, strict=True)
        rows = (reader.line_num for cells in reader if cells)
        next(rows)  # the header
        for i, line in enumerate(rows):
            if i == row:
                return line
    raise ValueError(f"{path}: has no data row {row}")


# -- pyarrow -----------------------------------------------------------------------------------

LARGE_FILE_BYTES = 32 * 2**20  # a progress bar is shown for files at least this large
ARROW_BLOCK_BYTES = 16 * 2**20
PLAIN_BLOCK_ROWS = 65536


def _parse_options():
    import pyarrow.csv

    return pyarrow.csv.ParseOptions(newlines_in_values=True)  # quoted line breaks, as csv does


def _pyarrow():
    """The pyarrow module with its csv reader loaded, or None when it is not installed."""
    try:
        import pyarrow
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return None
    return pyarrow


def release_freed_memory() -> None:
    """Give back to the system the memory of columns no longer referenced: pyarrow's allocator
    keeps freed blocks for reuse, which a table read once never needs."""
    pyarrow = _pyarrow()
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()


def read_table(
    path: str | os.PathLike, progress: bool = False, text_columns: Collection[str] | None = None
) -> Table:
    """The whole file as one Table; ``progress`` shows a bar on stderr for a large file.

    ``text_columns``: the columns kept as text; with pyarrow the others are parsed as numbers
    while reading (a bad cell is then reported as ``Table.numeric`` reports it). None: all text.
    """
    path = os.fspath(path)
    pa = _pyarrow()
    if pa is None:
        return next(plain_blocks(path, None)[1])
    header, written = read_header(path)
    if text_columns is not None and not set(text_columns) <= set(header):
        text_columns = None  # a missing column is the caller's to report: read all as text
    convert = _convert_options(pa, header, written, text_columns)
    with _counted(path, progress) as source:
        try:
            table = pa.csv.read_csv(source, parse_options=_parse_options(), convert_options=convert)
        except pa.ArrowException:  # the plain reader says what is wrong, or reads it after all
            return _read_plain_checked(path, header, text_columns)
    if not table.num_rows:
        raise DataError(f"{path}: has a header but no data rows")
    return Table(path, header, table.columns)


def read_blocks(
    path: str | os.PathLike, progress: bool = False, block_bytes: int = ARROW_BLOCK_BYTES
) -> tuple[list[str], Iterator[Table]]:
    """The header, and the rows as text in Tables of about ``block_bytes`` of the file each, so
    that a caller can work through a file larger than it wants in memory."""
    path = os.fspath(path)
    pa = _pyarrow()
    if pa is None:
        return plain_blocks(path, PLAIN_BLOCK_ROWS)
    header, written = read_header(path)
    return header, _arrow_blocks(pa, path, header, written, progress, block_bytes)


def _convert_options(pa, header, written, text_columns):
    types = {
        raw: pa.string() if text_columns is None or name in text_columns else pa.float64()
        for name, raw in zip(header, written, strict=True)
    }
    return pa.csv.ConvertOptions(column_types=types, strings_can_be_null=False)


def _read_plain_checked(path: str, header: list[str], text_columns) -> Table:
    table = next(plain_blocks(path, None)[1])
    if text_columns is not None:
        table.numeric([name for name in header if name not in text_columns])
    return table


def _arrow_blocks(pa, path, header, written, progress, block_bytes) -> Iterator[Table]:
    """The rows read by pyarrow, every column as text; a file pyarrow refuses is read again by
    the plain reader, whose message names the line."""
    options = pa.csv.ReadOptions(block_size=block_bytes)
    convert = _convert_options(pa, header, written, None)
    first_row = 0
    with _counted(path, progress) as source:
        try:
            batches = pa.csv.open_csv(
                source,
                read_options=options,
                parse_options=_parse_options(),
                convert_options=convert,
            )
            for batch in batches:
                if batch.num_rows:
                    yield Table(path, header, batch.columns, None, first_row)
                    first_row += batch.num_rows
        except pa.ArrowException as error:
            raise _plain_error(path, error, header, None) from None
    if not first_row:
        raise DataError(f"{path}: has a header but no data rows")


def _plain_error(path: str, error: Exception, header, text_columns) -> DataError:
    """The plain reader's message for a file pyarrow refused, else pyarrow's own."""
    numbers = [] if text_columns is None else [n for n in header if n not in text_columns]
    try:
        for block in plain_blocks(path, PLAIN_BLOCK_ROWS)[1]:
            block.numeric(numbers)
    except DataError as plain:
        return plain
    return DataError(f"{path}: not valid CSV ({' '.join(str(error).split())})")


@contextlib.contextmanager
def _counted(path: str, progress: bool):
    """The file opened for pyarrow; with ``progress`` and a large file, a bar counts its bytes."""
    size = os.path.getsize(path)
    if not progress or size < LARGE_FILE_BYTES:
        yield path
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        yield path
        return
    name = os.path.basename(path)
    bar = tqdm(total=size, unit="B", unit_scale=True, desc=f"reading {name}", leave=False)
    with bar, _Progress(path, bar) as source:
        yield source


class _Progress(io.FileIO):
    """The file opened for binary reading; each read advances a progress bar."""

    def __init__(self, path: str, bar) -> None:
        super().__init__(path, "rb")
        self.bar = bar

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.bar.update(len(data))
        return data


__all__ = ["DataError", "Table", "line_of_row", "plain_blocks", "read_blocks", "read_table"]
