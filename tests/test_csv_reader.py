"""The CSV reader with pyarrow and without it: the same tables, the same messages."""

import csv
import io

import numpy as np
import pytest

from backprop.io import csv_reader
from backprop.io.csv_reader import DataError, read_blocks, read_table
from backprop.io.csv_writer import atomic_csv


@pytest.fixture(params=["pyarrow", "plain"])
def reader(request, monkeypatch):
    if request.param == "pyarrow":
        pytest.importorskip("pyarrow")
    else:
        monkeypatch.setattr(csv_reader, "_pyarrow", lambda: None)
    return request.param


def write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_cells_blank_lines_and_line_numbers(tmp_path, reader):
    text = '\ufeffa, b ,t\n1, 2.5 ,x\n\n"3",4,"y, z"\n5,1e3,\n'
    table = read_table(write(tmp_path, text))
    assert table.header == ["a", "b", "t"] and len(table) == 3
    assert table.column("t") == ["x", "y, z", ""]
    np.testing.assert_array_equal(table.numeric(["a", "b"]), [[1, 2.5], [3, 4], [5, 1000]])
    assert [table.where(row, "a") for row in range(3)] == [
        f"{table.path}: line {line}, column 'a'" for line in (2, 4, 5)
    ]


def test_a_selected_table_keeps_its_rows_line_numbers_and_messages(tmp_path, reader):
    table = read_table(write(tmp_path, "a,b,t\n1,2,x\n\n3,4,y\n"))
    target = table.select(["t"])
    del table
    csv_reader.release_freed_memory()
    assert target.header == ["t"] and len(target) == 2 and target.column("t") == ["x", "y"]
    assert target.where(1, "a").endswith("line 4, column 'a'")
    with pytest.raises(DataError, match="no column 'a'"):
        target.column("a")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "the file is empty"),
        ("a,b\n", "has a header but no data rows"),
        ("a,b\n1,2\n3\n", "line 3 has 1 fields, the header (line 1) has 2"),
        ("a,a\n1,2\n", "line 1: column 'a' appears twice in the header"),
        ("a,,c\n1,2,3\n", "line 1: header field 2 is empty"),
        (b"a,b\n1,caf\xe9\n", "not UTF-8 text"),
    ],
)
def test_the_same_message_with_either_reader(tmp_path, reader, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=f"^{path}: .*") as error:
        header, blocks = read_blocks(path)
        list(blocks)
    assert expected in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("oops", "line 3, column 'b': 'oops' is not a number"),
        ("", "line 3, column 'b': empty cell"),
        ("NaN", "line 3, column 'b': NaN"),
        ("inf", "line 3, column 'b': 'inf' is not a finite number"),
    ],
)
def test_bad_feature_cells_are_named_by_line_and_column(tmp_path, reader, cell, expected):
    table = read_table(write(tmp_path, f"a,b\n1,2\n3,{cell}\n"))
    with pytest.raises(DataError, match=expected):
        table.numeric(["a", "b"])


def test_missing_file_and_directory(tmp_path, reader):
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path)


def test_blocks_cover_the_file_and_know_their_lines(tmp_path, reader, monkeypatch):
    monkeypatch.setattr(csv_reader, "PLAIN_BLOCK_ROWS", 7)
    rows = [f"{i},{i * 0.5},{'yes' if i % 3 else 'no'}" for i in range(1000)]
    path = write(tmp_path, "i,x,label\n" + "\n".join(rows) + "\n9,oops,no\n")
    header, blocks = read_blocks(path, block_bytes=4096)
    seen, last = [], None
    with pytest.raises(DataError, match="line 1002, column 'x': 'oops'"):
        for block in blocks:
            last = block
            seen.extend(block.column("i"))
            block.numeric(["i", "x"])
    assert header == ["i", "x", "label"] and last.first_row > 0
    assert seen == [str(i) for i in range(1000)] + ["9"]


def test_a_large_file_shows_progress_unless_quiet(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pyarrow")
    pytest.importorskip("tqdm")
    monkeypatch.setattr(csv_reader, "LARGE_FILE_BYTES", 1000)
    path = write(tmp_path, "a,b\n" + "1,2\n" * 2000)
    assert len(read_table(path, progress=True)) == 2000
    assert "reading t.csv" in capsys.readouterr().err
    read_table(path, progress=False)
    small = write(tmp_path, "a,b\n1,2\n", name="small.csv")
    read_table(small, progress=True)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("as_arrow", [False, True])
def test_the_writer_quotes_as_the_csv_module_does(tmp_path, as_arrow):
    columns = [["1", "x,y", "", "a\nb"], ['say "hi"', "plain", "z", " "]]
    if as_arrow:
        pa = pytest.importorskip("pyarrow")
        columns = [pa.array(column) for column in columns]
    path = tmp_path / "out.csv"
    with atomic_csv(path, ["a", "b,c"]) as write_block:
        write_block(columns)
        write_block([["last"], ["row"]])
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    rows = zip(*[list(column) for column in columns], strict=True)
    writer.writerows([["a", "b,c"], *rows, ["last", "row"]])
    assert path.read_text(encoding="utf-8") == expected.getvalue()


def test_the_writer_leaves_nothing_behind_on_an_error(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_csv(path, ["a"]) as write_block:
        write_block([["1"]])
        raise RuntimeError("stop")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


@pytest.mark.parametrize(
    "cell, expected",
    [("oops", "'oops' is not a number"), ("", "empty cell"), ("NaN", "NaN"), ("1e999", "'1e999'")],
)
def test_columns_read_as_numbers_keep_the_messages(tmp_path, reader, cell, expected):
    path = write(tmp_path, f"a,b,t\n 1.5 ,2,007\n3,{cell},x\n")
    with pytest.raises(DataError, match=f"line 3, column 'b': {expected}"):
        read_table(path, text_columns=["t"]).numeric(["a", "b"])
    fine = read_table(
        write(tmp_path, "a,b,t\n 1.5 ,2,007\n3,4,x\n", "fine.csv"), text_columns=["t"]
    )
    np.testing.assert_array_equal(fine.numeric(["a", "b"]), [[1.5, 2], [3, 4]])
    assert fine.column("t") == ["007", "x"]


def test_predict_streams_blocks_and_writes_what_one_block_would(tmp_path, reader, monkeypatch):
    pytest.importorskip("safetensors")
    from backprop.cli import main

    rng = np.random.default_rng(0)
    rows = [f'{x:.4f},{y:.4f},"{"a,b" if x > y else "c"}"' for x, y in rng.normal(size=(3000, 2))]
    data = write(tmp_path, "x,y,label\n" + "\n".join(rows) + "\n")
    model, whole, blocks = tmp_path / "m.st", tmp_path / "whole.csv", tmp_path / "blocks.csv"
    assert main(["train", str(data), "--target", "label", "--out", str(model), "--epochs", "2",
                 "--quiet"]) == 0  # fmt: skip
    assert main(["predict", str(model), str(data), "--out", str(whole), "--proba"]) == 0
    monkeypatch.setattr(csv_reader, "PLAIN_BLOCK_ROWS", 500)
    monkeypatch.setattr(csv_reader, "ARROW_BLOCK_BYTES", 8192)
    monkeypatch.setattr(csv_reader.read_blocks, "__defaults__", (False, 8192))
    assert main(["predict", str(model), str(data), "--out", str(blocks), "--proba"]) == 0
    with open(blocks, newline="") as a, open(whole, newline="") as b:
        written, expected = list(csv.reader(a)), list(csv.reader(b))
    assert len(written) == 3001 and written[0][:4] == ["x", "y", "label", "prediction"]
    assert [row[:4] for row in written] == [row[:4] for row in expected]
    assert {row[2] for row in written[1:]} == {"a,b", "c"}
    # float32 products of other batch sizes may differ in the last bits
    probabilities = [
        np.array(rows, dtype=float)
        for rows in ([r[4:] for r in w[1:]] for w in (written, expected))
    ]
    np.testing.assert_allclose(*probabilities, atol=1e-6)
