"""demo and explain replace only pictures backprop drew: a user's image, a missing directory and
an input of the command are refused before any work, and nothing is left half-written."""

from pathlib import Path

import pytest
from test_cli import EXPLAIN_MAZUR
from test_cli_files import refused_in_process, snapshot

from backprop.cli import main
from backprop.cli.demo import XOR_PICTURES
from backprop.cli.pictures import is_backprop_picture

pytest.importorskip("matplotlib")
PNG_OF_SOMEONE_ELSE = bytes.fromhex("89504e470d0a1a0a") + b"not drawn by backprop"


def _a_matplotlib_png(path):
    import matplotlib

    matplotlib.use("Agg")
    figure = matplotlib.pyplot.figure()
    figure.savefig(path)
    matplotlib.pyplot.close(figure)
    return path.read_bytes()


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_explain_replaces_its_own_picture(tmp_path, capsys, suffix):
    picture = tmp_path / f"net{suffix}"
    assert main([*EXPLAIN_MAZUR, "--plot", str(picture)]) == 0
    assert is_backprop_picture(str(picture))
    first = picture.read_bytes()
    assert main([*EXPLAIN_MAZUR, "--plot", str(picture), "--lr", "0.5"]) == 0
    assert is_backprop_picture(str(picture)) and sorted(tmp_path.iterdir()) == [picture]
    assert picture.stat().st_size > 0 and first[:4] == picture.read_bytes()[:4]


@pytest.mark.parametrize(
    "name, content",
    [
        ("photo.png", PNG_OF_SOMEONE_ELSE),
        ("drawing.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("empty.png", b""),
    ],
)
def test_explain_leaves_a_users_picture_alone(tmp_path, capsys, name, content):
    picture = tmp_path / name
    picture.write_bytes(content)
    before = snapshot(tmp_path)
    refused_in_process(
        capsys,
        [*EXPLAIN_MAZUR, "--plot", str(picture)],
        f"--plot {picture}",
        "not a picture backprop drew",
    )
    assert snapshot(tmp_path) == before


def test_a_matplotlib_picture_not_from_backprop_is_not_ours(tmp_path, capsys):
    picture = tmp_path / "plot.png"
    content = _a_matplotlib_png(picture)
    assert not is_backprop_picture(str(picture))
    refused_in_process(
        capsys, [*EXPLAIN_MAZUR, "--plot", str(picture)], "not a picture backprop drew"
    )
    assert picture.read_bytes() == content


def test_explain_makes_no_directory(tmp_path, capsys):
    picture = tmp_path / "missing" / "deeper" / "net.png"
    refused_in_process(
        capsys,
        [*EXPLAIN_MAZUR, "--plot", str(picture)],
        f"the directory {tmp_path / 'missing' / 'deeper'} does not exist",
    )
    assert list(tmp_path.iterdir()) == []


def test_explain_plot_cannot_be_its_network_file(tmp_path, capsys):
    network = tmp_path / "net.png"
    network.write_bytes(Path(EXPLAIN_MAZUR[1]).read_bytes())
    before = snapshot(tmp_path)
    refused_in_process(
        capsys,
        ["explain", str(network), *EXPLAIN_MAZUR[2:], "--plot", str(network)],
        "is the network file",
    )
    assert snapshot(tmp_path) == before


def test_demo_leaves_a_users_picture_alone_and_trains_nothing(tmp_path, capsys):
    (tmp_path / XOR_PICTURES[2]).write_bytes(PNG_OF_SOMEONE_ELSE)
    before = snapshot(tmp_path)
    refused_in_process(
        capsys,
        ["demo", "xor", "--plots", str(tmp_path)],
        f"--plots {tmp_path / XOR_PICTURES[2]}",
        "not a picture backprop drew",
    )
    assert capsys.readouterr().out == ""  # refused before training
    assert snapshot(tmp_path) == before


def test_demo_makes_its_folder_and_draws_again_over_its_own_pictures(tmp_path, capsys):
    folder = tmp_path / "pictures"
    for _ in range(2):
        assert main(["demo", "xor", "--plots", str(folder)]) == 0
        assert sorted(p.name for p in folder.iterdir()) == sorted(XOR_PICTURES)
        assert all(is_backprop_picture(str(folder / name)) for name in XOR_PICTURES)
    assert f"Pictures: {folder / XOR_PICTURES[0]}" in capsys.readouterr().out


def test_demo_makes_one_folder_not_a_path_of_them(tmp_path, capsys):
    refused_in_process(
        capsys,
        ["demo", "xor", "--plots", str(tmp_path / "a" / "b")],
        f"the directory {tmp_path / 'a'} does not exist",
    )
    assert list(tmp_path.iterdir()) == []


def test_demo_plots_must_be_a_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    refused_in_process(
        capsys, ["demo", "xor", "--plots", str(tmp_path / "file")], "is not a directory"
    )
    assert (tmp_path / "file").read_text() == "mine"
