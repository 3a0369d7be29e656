"""Model files: round trips, determinism, atomic writes, and refusing every bad file safely."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from backprop.activations import leaky_relu
from backprop.losses import huber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import backprop as bp
from backprop import io

pytest.importorskip("safetensors")  # the optional dependency: pip install "backprop[io]"

SRC = str(Path(__file__).resolve().parents[1] / "src")
RNG = np.random.default_rng(0)


def architectures():
    return {
        "plain": bp.Network(
            [3, 5, 2], hidden="tanh", output="softmax", loss="cross_entropy", seed=1
        ),
        "concat_skip": bp.Network(
            [4, bp.Layer(6, "relu"), bp.Layer(3, "tanh", inputs=[0, 1]), 2], seed=2
        ),
        "sum_skip": bp.Network(
            [
                3,
                bp.Layer(4, "tanh"),
                bp.Layer(4, "softplus", dropout=0.3),
                bp.Layer(1, "identity", inputs=[1, 2], combine="sum"),
            ],
            loss="squared",
            seed=3,
        ),
        "leaky_huber_f64": bp.Network(
            [3, bp.Layer(7, leaky_relu(0.2), init="he_uniform"), bp.Layer(2, "identity")],
            loss=huber(2.0),
            dtype="float64",
            seed=None,
        ),
    }


def train_a_little(net):
    X = RNG.normal(size=(32, net.n_inputs))
    if net.loss.name == "cross_entropy":
        Y = np.eye(net.n_outputs)[RNG.integers(0, net.n_outputs, 32)]
    else:
        Y = RNG.uniform(size=(32, net.n_outputs))
    net.fit(X, Y, epochs=2, batch_size=8)
    return X


def craft(header: dict, data: bytes) -> bytes:
    """A safetensors file built by hand: 8-byte length, JSON header, data."""
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def split(blob: bytes) -> tuple[dict, bytes]:
    n = struct.unpack("<Q", blob[:8])[0]
    return json.loads(blob[8 : 8 + n]), blob[8 + n :]


@pytest.fixture
def saved(tmp_path):
    net = bp.Network([2, 3, 1], hidden="tanh", seed=0)
    path = tmp_path / "net.safetensors"
    io.save(net, path)
    return net, path


def rewrite_network(path, change):
    header, data = split(path.read_bytes())
    config = json.loads(header["__metadata__"]["network"])
    change(config)
    header["__metadata__"]["network"] = json.dumps(config)
    path.write_bytes(craft(header, data))


# -- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(architectures()))
def test_round_trip_is_bitwise(tmp_path, name):
    net = architectures()[name]
    X = train_a_little(net)
    path = tmp_path / "m.safetensors"
    io.save(net, path)
    again = io.load(path)
    assert again.params.dtype == net.params.dtype
    assert np.array_equal(again.params, net.params)
    assert np.array_equal(again.predict(X), net.predict(X))
    assert io.config.network_config(again) == io.config.network_config(net)
    assert repr(again) == repr(net)


def test_leaky_slope_and_huber_threshold_survive(tmp_path):
    net = architectures()["leaky_huber_f64"]
    io.save(net, tmp_path / "m.safetensors")
    again = io.load(tmp_path / "m.safetensors")
    assert again.layers[1].activation.params == {"slope": 0.2}
    assert again.layers[1].init == "he_uniform"
    assert again.loss.params == {"d": 2.0}
    assert again.dtype == np.float64
    z = np.array([[-1.0, 4.0]])
    assert np.array_equal(again.layers[1].activation(z), np.array([[-0.2, 4.0]]))


def test_round_trip_in_a_fresh_process(tmp_path):
    net = architectures()["concat_skip"]
    X = train_a_little(net)
    path = tmp_path / "m.safetensors"
    io.save(net, path)
    np.save(tmp_path / "X.npy", X)
    code = (
        "import sys, numpy as np, backprop.io as io;"
        "net = io.load(sys.argv[1]);"
        "np.save(sys.argv[3], net.predict(np.load(sys.argv[2])));"
        "io.save(net, sys.argv[4])"
    )
    paths = [str(tmp_path / name) for name in ("m.safetensors", "X.npy", "P.npy", "m2.safetensors")]
    env = {**os.environ, "PYTHONPATH": SRC}
    result = subprocess.run(
        [sys.executable, "-c", code, *paths], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.load(tmp_path / "P.npy"), net.predict(X))
    # and another process writes the very same bytes
    assert (tmp_path / "m2.safetensors").read_bytes() == path.read_bytes()


def test_metadata_and_extra_tensors_round_trip(tmp_path):
    net = bp.Network([3, 2], seed=0)
    meta = {"classes": ["cat", "dog"], "lr": 0.1, "nested": {"epochs": 5, "ok": True}, "n": None}
    extra = {
        "mean": np.array([1.5, -2.0, 3.25]),
        "scale": np.array([1, 2, 3], dtype=np.float32),
        "labels": np.array([[0, 1], [2, 3]], dtype=np.int64),
        "mask": np.array([True, False]),
    }
    io.save(net, tmp_path / "m.safetensors", metadata=meta, tensors=extra)
    again, meta2, extra2 = io.load_with_metadata(tmp_path / "m.safetensors")
    assert meta2 == meta
    assert set(extra2) == set(extra)
    for name, array in extra.items():
        assert extra2[name].dtype == array.dtype and np.array_equal(extra2[name], array)
    assert np.array_equal(again.params, net.params)


def test_bad_metadata_and_tensors_are_refused_before_writing(tmp_path):
    net = bp.Network([2, 1], seed=0)
    path = tmp_path / "m.safetensors"
    with pytest.raises(TypeError, match="'when'"):
        io.save(net, path, metadata={"when": object()})
    with pytest.raises(TypeError, match="'x'"):
        io.save(net, path, metadata={"x": float("nan")})
    with pytest.raises(ValueError, match="reserved"):
        io.save(net, path, tensors={"params": np.zeros(2)})
    with pytest.raises(TypeError, match="dtype"):
        io.save(net, path, tensors={"names": np.array(["a", "b"], dtype=object)})
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_unregistered_custom_activation_cannot_be_saved(tmp_path):
    rogue = bp.Activation("rogue", lambda z, out: np.copyto(out, z), lambda z, out: out.fill(1))
    net = bp.Network([2, bp.Layer(1, rogue)], seed=0)
    with pytest.raises(ValueError, match="register"):
        io.save(net, tmp_path / "m.safetensors")


def test_registered_custom_activation_loads_only_when_registered(tmp_path):
    name = "io_test_cube"
    bp.register_activation(name, lambda z: z**3, lambda z: 3 * z**2, overwrite=True)
    try:
        net = bp.Network([2, bp.Layer(1, name)], seed=0)
        io.save(net, tmp_path / "m.safetensors")
        assert io.load(tmp_path / "m.safetensors").layers[1].activation.name == name
    finally:
        del bp.activations.ACTIVATIONS[name]
    with pytest.raises(ValueError, match="registered again"):
        io.load(tmp_path / "m.safetensors")


def test_saving_twice_gives_identical_bytes(tmp_path):
    net = architectures()["sum_skip"]
    io.save(net, tmp_path / "a.safetensors", metadata={"b": 1, "a": 2}, tensors={"m": np.ones(3)})
    io.save(net, tmp_path / "b.safetensors", metadata={"a": 2, "b": 1}, tensors={"m": np.ones(3)})
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_file_layout_is_what_the_docs_say(saved):
    net, path = saved
    header, data = split(path.read_bytes())
    meta = header.pop("__metadata__")
    assert meta["format"] == "backprop" and meta["format_version"] == "1"
    assert meta["backprop_version"] == bp.__version__
    assert json.loads(meta["network"])["layers"][0]["activation"] == {"name": "tanh", "params": {}}
    assert json.loads(meta["user"]) == {}
    assert header == {"params": {"dtype": "F32", "shape": [13], "data_offsets": [0, 52]}}
    assert np.array_equal(np.frombuffer(data, "<f4"), net.params)
    others = {key: value for key, value in meta.items() if key != "sha256"}
    compact = json.dumps(others, sort_keys=True, separators=(",", ":")).encode()
    assert json.loads(meta["sha256"]) == {
        "metadata": hashlib.sha256(compact).hexdigest(),
        "tensors": {"params": hashlib.sha256(data).hexdigest()},
    }


# -- hostile and broken files ------------------------------------------------------------------


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payload_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Payload(str(marker))))
    # check the payload works, so the test could fail
    pickle.loads(path.read_bytes()).close()  # the payload opened the marker file
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError, match="evil.safetensors"):
        io.load(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="half"),
        pytest.param(lambda b: b[:-1], id="one-byte-short"),
        pytest.param(lambda b: b + b"\0", id="one-trailing-byte"),
        pytest.param(lambda b: b"", id="empty"),
        pytest.param(lambda b: b[:7], id="seven-bytes"),
        pytest.param(lambda b: np.random.default_rng(5).bytes(4096), id="random-4KiB"),
        pytest.param(lambda b: b[:8] + b"\xff" + b[9:], id="non-utf8-header"),
    ],
)
def test_corrupt_files_raise_value_error_naming_the_file(saved, mangle):
    _, path = saved
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(ValueError, match="net.safetensors"):
        io.load(path)


@pytest.mark.parametrize("length", [2**63, 10**12, 2**64 - 1, 100_000_001, 10**6])
def test_absurd_header_lengths_are_refused_before_reading(saved, length):
    _, path = saved
    path.write_bytes(struct.pack("<Q", length) + path.read_bytes()[8:])
    with pytest.raises(ValueError, match="header length"):
        io.load(path)


def test_loader_imports_and_calls_nothing_dangerous():
    import ast

    banned = {"pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib", "importlib"}
    sources = sorted(Path(io.__file__).parent.glob("*.py"))
    assert {"model_file.py", "config.py", "atomic.py"} <= {source.name for source in sources}
    trees = [ast.parse(source.read_text(encoding="utf-8")) for source in sources]
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Import):
            assert not {alias.name.split(".")[0] for alias in node.names} & banned
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in banned
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"eval", "exec", "compile", "__import__", "getattr"}


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "nope.safetensors")
    with pytest.raises((IsADirectoryError, ValueError, PermissionError)):
        io.load(tmp_path)


def test_other_safetensors_files_are_not_ours(tmp_path):
    import safetensors.numpy

    path = tmp_path / "other.safetensors"
    safetensors.numpy.save_file({"params": np.zeros(13, np.float32)}, str(path))
    with pytest.raises(ValueError, match="not a backprop model file"):
        io.load(path)
    safetensors.numpy.save_file(
        {"params": np.zeros(13, np.float32)}, str(path), metadata={"format": "other"}
    )
    with pytest.raises(ValueError, match="not a backprop model file"):
        io.load(path)


def rewrite_metadata(path, **changes):
    header, data = split(path.read_bytes())
    header["__metadata__"].update(changes)
    path.write_bytes(craft(header, data))


def test_newer_format_version_is_refused(saved):
    _, path = saved
    rewrite_metadata(path, format_version="999")
    with pytest.raises(ValueError, match=r"newer backprop \(format 999, this reads <= 1\)"):
        io.load(path)


@pytest.mark.parametrize("version", ["one", "", "1.5"])
def test_format_version_must_be_an_integer(saved, version):
    _, path = saved
    rewrite_metadata(path, format_version=version)
    with pytest.raises(ValueError, match="format_version"):
        io.load(path)


@pytest.mark.parametrize("name", ["os.system", "__import__", "eval", "builtins.exec"])
def test_unknown_activation_names_are_refused(saved, name):
    _, path = saved

    def change(config):
        config["layers"][0]["activation"]["name"] = name

    rewrite_network(path, change)
    with pytest.raises(ValueError, match="unknown activation"):
        io.load(path)


def test_unknown_loss_name_is_refused(saved):
    _, path = saved
    rewrite_network(path, lambda config: config["loss"].update(name="os.system"))
    with pytest.raises(ValueError, match="unknown loss"):
        io.load(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.pop("dtype"), "wrong keys"),
        (lambda c: c.update(extra=1), "wrong keys"),
        (lambda c: c.update(n_inputs="2"), "integer"),
        (lambda c: c.update(n_inputs=True), "integer"),
        (lambda c: c.update(dtype="float16"), "dtype"),
        (lambda c: c.update(seed=-1), "seed"),
        (lambda c: c.update(layers=[]), "non-empty"),
        (lambda c: c["layers"][0].update(size=0), "size"),
        (lambda c: c["layers"][0].update(size=10**12), "shape"),
        (lambda c: c["layers"][1].update(inputs=[5]), "earlier layer"),
        (lambda c: c["layers"][0].update(dropout=1.5), "dropout"),
        (lambda c: c["layers"][0].update(init="os.system"), "init"),
        (lambda c: c["layers"][0].update(combine="exec"), "combine"),
        (lambda c: c["layers"][0]["activation"].update(params={"slope": 0.5}), "parameters"),
        (lambda c: c["layers"][0]["activation"].update(name="leaky_relu", params={}), "slope"),
        (lambda c: c["loss"].update(name="huber", params={"d": -1.0}), "huber"),
    ],
)
def test_malformed_network_configs_are_refused(saved, change, message):
    _, path = saved
    rewrite_network(path, change)
    with pytest.raises(ValueError, match=message):
        io.load(path)


def test_network_config_that_is_not_json_is_refused(saved):
    _, path = saved
    for text in ["{", "NaN", "[" * 100_000, '{"n_inputs": Infinity}']:
        rewrite_metadata(path, network=text)
        with pytest.raises(ValueError, match="net.safetensors"):
            io.load(path)


def params_header(dtype="F32", shape=(13,), nbytes=52):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [0, nbytes]}


@pytest.mark.parametrize(
    "entry, data, message",
    [
        (params_header(shape=(12,), nbytes=48), bytes(48), "shape"),
        (params_header(shape=(13, 1)), bytes(52), "shape"),
        (params_header("F64", nbytes=104), bytes(104), "dtype"),
        (params_header("I32"), bytes(52), "dtype"),
        (params_header("XYZ"), bytes(52), "net.safetensors"),
        (params_header(shape=(2**62, 4)), bytes(52), "net.safetensors"),
        (params_header(nbytes=60), bytes(60), "net.safetensors"),
        (None, b"", "'params' is missing"),
    ],
)
def test_wrong_params_tensor_is_refused(saved, entry, data, message):
    _, path = saved
    header, _ = split(path.read_bytes())
    header.pop("params")
    if entry is not None:
        header["params"] = entry
    path.write_bytes(craft(header, data))
    with pytest.raises(ValueError, match=message):
        io.load(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused(saved, bad):
    _, path = saved
    header, data = split(path.read_bytes())
    values = np.frombuffer(data, "<f4").copy()
    values[4] = bad
    path.write_bytes(craft(header, values.tobytes()))
    with pytest.raises(ValueError, match="weights contain non-finite values"):
        io.load(path)


def test_unexpected_and_missing_extra_tensors(saved):
    _, path = saved
    header, data = split(path.read_bytes())
    header["sneaky"] = {"dtype": "U8", "shape": [1], "data_offsets": [52, 53]}
    path.write_bytes(craft(header, data + b"\1"))
    with pytest.raises(ValueError, match="unexpected tensor 'sneaky'"):
        io.load(path)
    header.pop("sneaky")
    header["__metadata__"]["tensors"] = '["mean"]'
    path.write_bytes(craft(header, data))
    with pytest.raises(ValueError, match="tensor 'mean' is missing"):
        io.load(path)


# -- damaged files: the checksums -------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_file(tmp_path_factory):
    """A small model file with an extra tensor, and where its tensor bytes start."""
    net = bp.Network([3, 4, 2], output="softmax", loss="cross_entropy", seed=0)
    path = tmp_path_factory.mktemp("signed") / "m.safetensors"
    io.save(net, path, metadata={"note": "x"}, tensors={"mean": np.arange(3.0)})
    blob = path.read_bytes()
    return blob, 8 + struct.unpack("<Q", blob[:8])[0]


def flipped(blob: bytes, bit: int) -> bytes:
    damaged = bytearray(blob)
    damaged[bit // 8] ^= 1 << (bit % 8)
    return bytes(damaged)


def test_every_single_bit_flip_in_the_tensor_bytes_is_refused(tmp_path, signed_file):
    """Without checksums most such flips loaded silently as a different network."""
    blob, data_start = signed_file
    path = tmp_path / "m.safetensors"
    for bit in range(data_start * 8, len(blob) * 8):
        path.write_bytes(flipped(blob, bit))
        with pytest.raises(ValueError, match=r"m\.safetensors.*(SHA-256|non-finite)"):
            io.load_with_metadata(path)


def test_every_single_bit_flip_in_the_header_is_refused(tmp_path, signed_file):
    blob, data_start = signed_file
    path = tmp_path / "m.safetensors"
    for bit in range(data_start * 8):
        path.write_bytes(flipped(blob, bit))
        with pytest.raises(ValueError, match=r"m\.safetensors"):
            io.load_with_metadata(path)


def without_checksum(path):
    header, data = split(path.read_bytes())
    del header["__metadata__"]["sha256"]
    path.write_bytes(craft(header, data))


def test_a_file_from_before_checksums_still_loads(saved):
    net, path = saved
    without_checksum(path)
    assert np.array_equal(io.load(path).params, net.params)


def test_an_unknown_entry_in_a_file_without_checksum_is_refused(saved):
    """A damaged checksum key looks like an unknown entry, not like an older file."""
    _, path = saved
    header, data = split(path.read_bytes())
    header["__metadata__"]["sha257"] = header["__metadata__"].pop("sha256")
    path.write_bytes(craft(header, data))
    with pytest.raises(ValueError, match="no checksum and an unknown entry 'sha257'"):
        io.load(path)


def test_edited_metadata_is_refused_as_damaged(saved):
    _, path = saved
    rewrite_metadata(path, user='{"classes": ["b", "a"]}')
    with pytest.raises(ValueError, match="net.safetensors.*metadata does not match its SHA-256"):
        io.load(path)


@pytest.mark.parametrize(
    "entry", ["[]", '{"metadata": "0"}', '{"metadata": "0", "tensors": {}}', "{"]
)
def test_a_malformed_checksum_entry_is_refused(saved, entry):
    _, path = saved
    rewrite_metadata(path, sha256=entry)
    with pytest.raises(ValueError, match="net.safetensors.*checksum entry"):
        io.load(path)


# -- atomic saving -----------------------------------------------------------------------------


@pytest.mark.parametrize("fail_in", ["replace", "fsync", "write"])
def test_a_crash_during_save_keeps_the_old_file(saved, monkeypatch, fail_in):
    old_net, path = saved
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("simulated crash")

    if fail_in == "write":
        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, handle):
                self.handle = handle

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.handle.close()

            def write(self, data):
                self.handle.write(data[: len(data) // 2])
                self.handle.flush()
                raise OSError("disk full")

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(os, fail_in, boom)
    with pytest.raises(OSError):
        io.save(bp.Network([2, 3, 1], seed=99), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    assert np.array_equal(io.load(path).params, old_net.params)


def test_save_replaces_an_existing_file(saved):
    _, path = saved
    new = bp.Network([2, 3, 1], hidden="tanh", seed=7)
    io.save(new, path)
    assert np.array_equal(io.load(path).params, new.params)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


# -- fuzzing -----------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def load_bytes(path, blob):
    path.write_bytes(blob)
    with contextlib.suppress(ValueError, OSError):  # anything else fails the test
        io.load_with_metadata(path)


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory):
    net = bp.Network([3, bp.Layer(4, leaky_relu(0.1)), bp.Layer(2, "tanh", inputs=[0, 1])], seed=4)
    path = tmp_path_factory.mktemp("valid") / "v.safetensors"
    io.save(net, path, metadata={"k": [1, 2]}, tensors={"mean": np.arange(3.0)})
    return path.read_bytes()


@FUZZ
@given(blob=st.binary(max_size=2000))
def test_fuzz_arbitrary_bytes(tmp_path, blob):
    load_bytes(tmp_path / "fuzz.safetensors", blob)


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_valid_file(tmp_path, valid_file, data):
    blob = bytearray(valid_file)
    for position in data.draw(st.lists(st.integers(0, len(blob) * 8 - 1), min_size=1, max_size=4)):
        blob[position // 8] ^= 1 << (position % 8)
    k = data.draw(st.integers(0, len(blob)))
    load_bytes(tmp_path / "fuzz.safetensors", bytes(blob[:k]))


@FUZZ
@given(k=st.integers(0, 2000))
def test_fuzz_every_truncation(tmp_path, valid_file, k):
    path = tmp_path / "fuzz.safetensors"
    if k >= len(valid_file):
        path.write_bytes(valid_file)
        assert io.load(path).n_inputs == 3
        return
    path.write_bytes(valid_file[:k])
    with pytest.raises(ValueError):
        io.load(path)


def test_network_save_and_bp_load(tmp_path):
    import backprop as bp

    net = bp.Network(
        [3, bp.Layer(4, "relu", dropout=0.1), 2], output="softmax", loss="cross_entropy", seed=5
    )
    net.save(tmp_path / "net.safetensors")
    loaded = bp.load(tmp_path / "net.safetensors")
    assert repr(loaded) == repr(net)
    assert np.array_equal(loaded.params, net.params)
