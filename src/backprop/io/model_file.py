"""Saving and loading networks as safetensors files: data only, never code.

A model file is a `safetensors <https://github.com/huggingface/safetensors>`_ file:

* 8 bytes: the header length n, a little-endian unsigned 64-bit integer;
* n bytes: a JSON header naming each tensor's dtype, shape and byte range, plus a
  ``__metadata__`` table of string → string;
* the raw little-endian tensor bytes.

backprop stores the tensor ``params`` (the network's flat buffer [W¹ … Wᴸ, b¹ … bᴸ] in its own
dtype), any extra tensors the caller passes (an estimator's feature scaling, say), and these
metadata entries:

``format``
    ``"backprop"``: files that lack it are refused as "not a backprop model file".
``format_version``
    ``"1"``. A file from a newer format is refused rather than misread.
``backprop_version``
    the version that wrote the file (informational).
``network``
    one JSON string: ``{"n_inputs", "dtype", "seed", "loss": {"name", "params"},
    "layers": [{"size", "activation": {"name", "params"}, "inputs", "combine", "dropout",
    "init"}, …]}``.
``tensors``
    a JSON list of the extra tensors' names.
``user``
    a JSON string of the caller's ``metadata`` dict.

Why not pickle: loading a pickle can execute arbitrary code (a ``__reduce__`` method may call
``os.system``), so a model file from anyone else would be a program. Here nothing in a file is
ever executed, imported or evaluated: the loader reads numbers and JSON, looks activation and loss
*names* up in the process's own tables (``backprop.activations.ACTIVATIONS``,
``backprop.losses.LOSSES``), rebuilds the network, and checks every tensor's name, shape, dtype
and values before using it. Custom activations or losses (``register_activation``,
``register_loss``) are saved by name only; such a file loads only in a process that registered
them again.

Files are written atomically (a temporary file in the same directory, fsync, ``os.replace``), so a
crash during ``save`` leaves the previous file intact, and the bytes are deterministic: saving the
same network twice gives identical files.

>>> import os, tempfile
>>> import numpy as np, backprop as bp
>>> from backprop.io import save, load
>>> net = bp.Network([2, 3, 1], hidden="tanh", seed=0)
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = os.path.join(tmp, "net.safetensors")
...     save(net, path)
...     again = load(path)
>>> bool(np.array_equal(again.params, net.params))
True
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from typing import Any

import numpy as np

from .._version import __version__
from ..engine.activations import ACTIVATIONS, Activation
from ..engine.backend import backend_for
from ..engine.losses import LOSSES, Loss
from ..engine.network import Layer, Network

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "load_with_metadata", "save"]

FORMAT_NAME = "backprop"
FORMAT_VERSION = 1

MAX_HEADER_SIZE = 100_000_000  # the cap safetensors itself applies
_PARAMS = "params"
_DTYPE_CODES = {"float32": "F32", "float64": "F64"}
_NETWORK_KEYS = {"n_inputs", "dtype", "seed", "loss", "layers"}
_LAYER_KEYS = {"size", "activation", "inputs", "combine", "dropout", "init"}
_FUNCTION_KEYS = {"name", "params"}
# numpy dtypes an extra tensor may have (what safetensors' numpy bindings write).
_EXTRA_KINDS = "biuf"


def _safetensors():
    """Import the safetensors numpy bindings lazily, with an actionable error if missing."""
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as error:
        raise ImportError(
            'saving and loading models needs the safetensors package: pip install "backprop[io]"'
        ) from error
    return safetensors


# -- saving -------------------------------------------------------------------------------


def _number(value: Any, what: str) -> int | float:
    """A JSON-safe finite number (int or float) from ``value``, else TypeError/ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{what} must be a number, got {value!r}")
    number = int(value) if isinstance(value, (int, np.integer)) else float(value)
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number!r}")
    return number


def _function_config(function: Activation | Loss, table: dict, kind: str) -> dict:
    """{"name", "params"} for an activation or loss, checking that a load can rebuild it."""
    name = function.name
    params = {
        str(key): _number(value, f"{kind} {name!r} parameter {key!r}")
        for key, value in sorted(function.params.items())
    }
    registered = table.get(name)
    rebuildable = registered is function or (
        registered is not None
        and registered.factory is not None
        and registered.factory is function.factory
    )
    if not rebuildable:
        raise ValueError(
            f"{kind} {name!r} cannot be saved: it is not the one registered under that name; "
            f"register it (register_{kind}) so that a file can refer to it by name"
        )
    return {"name": name, "params": params}


def _network_config(net: Network) -> dict:
    """The architecture of ``net`` as plain JSON-serialisable data (what ``save`` stores)."""
    seed = net.seed
    if isinstance(seed, np.integer):
        seed = int(seed)
    if isinstance(seed, bool) or not isinstance(seed, int):
        seed = None  # a Generator or SeedSequence seed cannot be stored; it only seeds the future
    layers = []
    for layer in net.layers[1:]:
        layers.append(
            {
                "size": int(layer.size),
                "activation": _function_config(layer.activation, ACTIVATIONS, "activation"),
                "inputs": None if layer.inputs is None else [int(i) for i in layer.inputs],
                "combine": layer.combine,
                "dropout": float(layer.dropout),
                "init": layer.init,
            }
        )
    return {
        "n_inputs": int(net.n_inputs),
        "dtype": net.dtype.name,
        "seed": seed,
        "loss": _function_config(net.loss, LOSSES, "loss"),
        "layers": layers,
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _user_json(metadata: dict | None) -> str:
    if metadata is None:
        return "{}"
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise TypeError(f"metadata keys must be strings, got {key!r}")
        try:
            _dumps(value)
        except (TypeError, ValueError, RecursionError) as error:
            raise TypeError(f"metadata[{key!r}] is not JSON-serialisable: {error}") from None
    return _dumps(metadata)


def encode_floats(value: Any) -> Any:
    """``value`` ready for JSON metadata: numpy scalars as Python numbers, tuples as lists, and
    the non-finite floats JSON lacks as ``{"float": "inf"}`` (``decode_floats`` undoes it)."""
    if isinstance(value, dict):
        return {k: encode_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_floats(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": str(value)}
    return value


def decode_floats(value: Any) -> Any:
    """The inverse of ``encode_floats``."""
    if isinstance(value, dict):
        if set(value) == {"float"} and value["float"] in ("inf", "-inf", "nan"):
            return float(value["float"])
        return {k: decode_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_floats(v) for v in value]
    return value


def _extra_tensors(tensors: dict | None) -> dict[str, np.ndarray]:
    if tensors is None:
        return {}
    if not isinstance(tensors, dict):
        raise TypeError(f"tensors must be a dict of name -> array, got {type(tensors).__name__}")
    extras = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"tensor names must be non-empty strings, got {name!r}")
        if name == _PARAMS or name.startswith("__"):
            raise ValueError(f"tensor name {name!r} is reserved; choose another")
        array = np.asarray(backend_for(value).to_host(value))
        if array.dtype.kind not in _EXTRA_KINDS:
            raise TypeError(f"tensor {name!r} must be numeric or boolean, got dtype {array.dtype}")
        extras[name] = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return extras


def _canonical(blob: bytes) -> bytes:
    """The same safetensors file with its JSON header keys sorted, so the bytes are reproducible.

    safetensors writes ``__metadata__`` in hash-map order, which changes from run to run; the data
    offsets are relative to the end of the header, so rewriting the header moves nothing.
    """
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("ascii")
    text += b" " * (-len(text) % 8)  # keep the data 8-byte aligned, as safetensors does
    return len(text).to_bytes(8, "little") + text + blob[8 + n :]


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix.

    The bytes go to a temporary file in the same directory, are flushed and fsynced, and the
    file replaces ``path`` by an atomic rename, after which the directory is fsynced; on any
    failure the temporary file is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        mode = 0o666 & ~mask
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def save(
    net: Network,
    path: str | os.PathLike,
    *,
    metadata: dict | None = None,
    tensors: dict[str, np.ndarray] | None = None,
) -> None:
    """Save a network (architecture, loss, dtype, seed and weights) to a safetensors file.

    Parameters
    ----------
    net : the network to save.
    path : the file to write; it is replaced atomically.
    metadata : a JSON-serialisable dict stored with the model (tuples come back as lists).
    tensors : extra named arrays to store (any name but ``"params"``), e.g. feature scaling.

    Raises TypeError for metadata that is not JSON-serialisable (naming the key) and ValueError
    for an activation or loss that a later load could not find by name. Nothing is written then.

    >>> import os, tempfile, numpy as np, backprop as bp
    >>> from backprop.io import save, load_with_metadata
    >>> net = bp.Network([3, bp.Layer(4, bp.activations.leaky_relu(0.2)), 1], seed=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "model.safetensors")
    ...     save(net, path, metadata={"classes": ["a", "b"]}, tensors={"mean": np.zeros(3)})
    ...     again, meta, extra = load_with_metadata(path)
    >>> again
    Network(3 → 4 leaky_relu → 1 sigmoid, loss='squared', dtype=float32, 21 parameters)
    >>> meta, extra["mean"].tolist()
    ({'classes': ['a', 'b']}, [0.0, 0.0, 0.0])
    """
    if not isinstance(net, Network):
        raise TypeError(f"save needs a Network, got {type(net).__name__}")
    path = os.fspath(path)
    safetensors = _safetensors()
    extras = _extra_tensors(tensors)
    header = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "backprop_version": __version__,
        "network": _dumps(_network_config(net)),
        "tensors": _dumps(sorted(extras)),
        "user": _user_json(metadata),
    }
    params = np.ascontiguousarray(net.xp.to_host(net.params), dtype=net.dtype.newbyteorder("<"))
    blob = safetensors.numpy.save({_PARAMS: params, **extras}, metadata=header)
    atomic_write(path, _canonical(blob))


# -- loading -------------------------------------------------------------------------------


class _FileError(ValueError):
    """A ValueError that already names the file and the problem."""


class _Reader:
    """Raises ValueErrors that name the file."""

    def __init__(self, path: str):
        self.path = path

    def error(self, problem: str) -> ValueError:
        return _FileError(f"cannot load {self.path!r}: {problem}")

    def json(self, text: str, what: str) -> Any:
        def refuse(constant):
            raise ValueError(f"{constant} is not allowed")

        try:
            return json.loads(text, parse_constant=refuse)
        except (ValueError, RecursionError) as error:
            raise self.error(f"{what} is not valid JSON ({error})") from None

    # -- type checks on the config ---------------------------------------------------------
    def expect_dict(self, value: Any, keys: set[str] | None, what: str) -> dict:
        if not isinstance(value, dict):
            raise self.error(f"{what} must be a JSON object, got {type(value).__name__}")
        if keys is not None and set(value) != keys:
            missing, extra = sorted(keys - set(value)), sorted(set(value) - keys)
            detail = "; ".join(
                part
                for part in (
                    f"missing {missing}" if missing else "",
                    f"unexpected {extra}" if extra else "",
                )
                if part
            )
            raise self.error(f"{what} has the wrong keys ({detail})")
        return value

    def expect_int(self, value: Any, what: str, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"{what} must be an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(f"{what} must be >= {minimum}, got {value}")
        return value

    def expect_number(self, value: Any, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"{what} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise self.error(f"{what} must be finite, got {value!r}")
        return value

    def expect_str(self, value: Any, what: str) -> str:
        if not isinstance(value, str):
            raise self.error(f"{what} must be a string, got {value!r}")
        return value

    def function(self, spec: Any, table: dict, kind: str, what: str):
        """Rebuild an activation or loss from {"name", "params"}: table look-ups only."""
        spec = self.expect_dict(spec, _FUNCTION_KEYS, what)
        name = self.expect_str(spec["name"], f"{what} name")
        params = self.expect_dict(spec["params"], None, f"{what} params")
        for key, value in params.items():
            self.expect_number(value, f"{what} parameter {key!r}")
        if name not in table:
            known = ", ".join(sorted(table))
            raise self.error(
                f"{what}: unknown {kind} {name!r} (known: {known}); a custom {kind} must be "
                f"registered again (register_{kind}) before loading a file that uses it"
            )
        registered = table[name]
        if registered.factory is not None:
            try:
                return registered.rebuild(params)
            except (TypeError, ValueError) as error:
                raise self.error(f"{what}: {error}") from None
        if dict(registered.params) != params:
            raise self.error(
                f"{what}: {kind} {name!r} with parameters {params} does not match the "
                f"registered one ({dict(registered.params)})"
            )
        return registered

    def network_config(self, text: str) -> dict:
        config = self.expect_dict(self.json(text, "the network config"), _NETWORK_KEYS, "network")
        self.expect_int(config["n_inputs"], "network n_inputs", 1)
        dtype = self.expect_str(config["dtype"], "network dtype")
        if dtype not in _DTYPE_CODES:
            raise self.error(f"network dtype must be one of {sorted(_DTYPE_CODES)}, got {dtype!r}")
        if config["seed"] is not None:
            self.expect_int(config["seed"], "network seed", 0)
        layers = config["layers"]
        if not isinstance(layers, list) or not layers:
            raise self.error("network layers must be a non-empty list")
        for l, layer in enumerate(layers, start=1):
            what = f"layer {l}"
            self.expect_dict(layer, _LAYER_KEYS, what)
            self.expect_int(layer["size"], f"{what} size", 1)
            if layer["inputs"] is not None:
                if not isinstance(layer["inputs"], list) or not layer["inputs"]:
                    raise self.error(f"{what} inputs must be null or a non-empty list")
                for s in layer["inputs"]:
                    self.expect_int(s, f"{what} input", 0)
                    if s >= l:
                        raise self.error(f"{what} input {s} is not an earlier layer")
            self.expect_str(layer["combine"], f"{what} combine")
            self.expect_number(layer["dropout"], f"{what} dropout")
            self.expect_str(layer["init"], f"{what} init")
        return config

    def n_params(self, config: dict) -> int:
        """The parameter count the config implies, computed before anything is allocated."""
        sizes = [config["n_inputs"]] + [layer["size"] for layer in config["layers"]]
        total = 0
        for l, layer in enumerate(config["layers"], start=1):
            sources = layer["inputs"] if layer["inputs"] is not None else [l - 1]
            widths = [sizes[s] for s in sources]
            n_in = widths[0] if layer["combine"] == "sum" else sum(widths)
            total += layer["size"] * n_in + layer["size"]
        return total

    def build(self, config: dict) -> Network:
        loss = self.function(config["loss"], LOSSES, "loss", "loss")
        layers = []
        for l, spec in enumerate(config["layers"], start=1):
            activation = self.function(
                spec["activation"], ACTIVATIONS, "activation", f"layer {l} activation"
            )
            try:
                layers.append(
                    Layer(
                        spec["size"],
                        activation,
                        inputs=spec["inputs"],
                        combine=spec["combine"],
                        dropout=spec["dropout"],
                        init=spec["init"],
                    )
                )
            except (TypeError, ValueError) as error:
                raise self.error(f"layer {l}: {error}") from None
        try:
            return Network(
                [config["n_inputs"], *layers],
                loss=loss,
                dtype=config["dtype"],
                seed=config["seed"],
            )
        except (TypeError, ValueError) as error:
            raise self.error(f"the stored architecture is invalid: {error}") from None


def _check_header_length(reader: _Reader, path: str) -> None:
    """Refuse empty, short and absurd files from their first 8 bytes, before allocating."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(8)
    if size < 8 or len(head) < 8:
        raise reader.error(f"the file is too short ({size} bytes) to be a model file")
    n = int.from_bytes(head, "little")
    if n > MAX_HEADER_SIZE:
        raise reader.error(f"header length {n} exceeds the limit of {MAX_HEADER_SIZE} bytes")
    if n > size - 8:
        raise reader.error(f"header length {n} runs past the end of the file ({size} bytes)")
    if n < 2:
        raise reader.error(f"header length {n} is too small")


def load_with_metadata(path: str | os.PathLike) -> tuple[Network, dict, dict[str, np.ndarray]]:
    """Load a network saved by ``save``, with its user metadata and extra tensors.

    Returns ``(net, metadata, tensors)``. Raises ValueError naming the file for anything that is
    not a valid backprop model file (wrong format, newer format version, unknown activation or
    loss, tensors of the wrong shape or dtype, non-finite weights, corrupt bytes), and
    FileNotFoundError or IsADirectoryError for a path that is not a file.

    >>> import os, tempfile, backprop as bp
    >>> from backprop.io import save, load_with_metadata
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "m.safetensors")
    ...     save(bp.Network([2, 1], seed=0), path, metadata={"epochs": 10})
    ...     net, meta, tensors = load_with_metadata(path)
    >>> meta, tensors
    ({'epochs': 10}, {})
    """
    path = os.fspath(path)
    reader = _Reader(path)
    safetensors = _safetensors()
    _check_header_length(reader, path)
    try:
        with safetensors.safe_open(path, framework="numpy") as handle:
            return _read(reader, handle)
    except (_FileError, OSError):
        raise
    except Exception as error:  # SafetensorError (a plain Exception) and anything unforeseen
        raise reader.error(f"not a valid model file ({type(error).__name__}: {error})") from None


def _read(reader: _Reader, handle) -> tuple[Network, dict, dict[str, np.ndarray]]:
    meta = handle.metadata() or {}
    if meta.get("format") != FORMAT_NAME:
        raise reader.error("not a backprop model file (its metadata lacks format='backprop')")
    try:
        version = int(meta.get("format_version", ""))
    except ValueError:
        problem = f"format_version {meta.get('format_version')!r} is not an integer"
        raise reader.error(problem) from None
    if version > FORMAT_VERSION:
        raise reader.error(
            f"written by a newer backprop (format {version}, this reads <= {FORMAT_VERSION}); "
            "upgrade backprop to load it"
        )
    if version < 1:
        raise reader.error(f"format_version {version} is not a valid version")
    if "network" not in meta:
        raise reader.error("the metadata has no network config")
    config = reader.network_config(meta["network"])
    user = reader.json(meta.get("user", "{}"), "the user metadata")
    if not isinstance(user, dict):
        raise reader.error("the user metadata must be a JSON object")
    extra_names = reader.json(meta.get("tensors", "[]"), "the tensor list")
    if not isinstance(extra_names, list) or not all(isinstance(n, str) for n in extra_names):
        raise reader.error("the tensor list must be a JSON list of names")

    keys = set(handle.keys())
    expected = {_PARAMS, *extra_names}
    if _PARAMS not in keys:
        raise reader.error(f"the tensor {_PARAMS!r} is missing")
    missing, unexpected = sorted(expected - keys), sorted(keys - expected)
    if missing:
        raise reader.error(f"tensor {missing[0]!r} is missing")
    if unexpected:
        raise reader.error(f"unexpected tensor {unexpected[0]!r}")

    n_params = reader.n_params(config)
    view = handle.get_slice(_PARAMS)
    shape, code = list(view.get_shape()), view.get_dtype()
    if shape != [n_params]:
        raise reader.error(
            f"tensor {_PARAMS!r} has shape {tuple(shape)}, the architecture needs ({n_params},)"
        )
    if code != _DTYPE_CODES[config["dtype"]]:
        raise reader.error(
            f"tensor {_PARAMS!r} has dtype {code}, the network is {config['dtype']} "
            f"({_DTYPE_CODES[config['dtype']]})"
        )
    net = reader.build(config)
    params = np.asarray(handle.get_tensor(_PARAMS))
    if params.dtype != net.dtype or params.shape != (n_params,):
        raise reader.error(f"tensor {_PARAMS!r} does not match the network")
    if not np.isfinite(params).all():
        raise reader.error("weights contain non-finite values (NaN or infinity)")
    net.set_params(params)
    tensors = {name: np.array(handle.get_tensor(name)) for name in sorted(extra_names)}
    return net, user, tensors


def load(path: str | os.PathLike) -> Network:
    """Load a network saved by ``save``; see ``load_with_metadata`` for the errors.

    >>> import os, tempfile, numpy as np, backprop as bp
    >>> from backprop.io import save, load
    >>> net = bp.Network([2, 4, 1], hidden="tanh", loss="log_loss", dtype="float64", seed=3)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save(net, os.path.join(tmp, "m.safetensors"))
    ...     again = load(os.path.join(tmp, "m.safetensors"))
    >>> X = np.array([[0.0, 1.0], [1.0, 1.0]])
    >>> bool(np.array_equal(again.predict(X), net.predict(X)))
    True
    """
    return load_with_metadata(path)[0]
