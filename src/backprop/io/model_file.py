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
``sha256``
    ``{"metadata": hex, "tensors": {name: hex, …}}``: the SHA-256 of every other metadata entry
    (as compact JSON with sorted keys) and of each tensor's raw little-endian bytes. A file
    whose bytes no longer match is refused as damaged, where a flipped bit in the weights would
    otherwise load as a different network. Files written before the entry existed load
    unverified, provided their metadata holds only the entries above.

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

import hashlib
import json
import os
from typing import Any

import numpy as np

from .._version import __version__
from ..engine.backend import backend_for, device_backend
from ..engine.network import Network
from .atomic import atomic_write
from .config import DTYPE_CODES, ConfigReader, ModelFileError, network_config
from .config import decode_floats as decode_floats  # re-exported for checkpoints, estimators
from .config import encode_floats as encode_floats  # re-exported for checkpoints, estimators

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "load_with_metadata", "save"]

FORMAT_NAME = "backprop"
FORMAT_VERSION = 1

MAX_HEADER_SIZE = 100_000_000  # the cap safetensors itself applies
_PARAMS = "params"
_CHECKSUM = "sha256"
# what every file written before checksums holds (a damaged checksum key would show up here)
_UNSIGNED_ENTRIES = {"format", "format_version", "backprop_version", "network", "tensors", "user"}
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


def _sha256_of_metadata(meta: dict) -> str:
    """The SHA-256 of every metadata entry but the checksum, as compact JSON with sorted keys."""
    entries = {key: value for key, value in meta.items() if key != _CHECKSUM}
    return hashlib.sha256(_dumps(entries).encode("ascii")).hexdigest()


def _sha256_of_tensor(array: np.ndarray) -> str:
    """The SHA-256 of an array's raw little-endian bytes, as the file stores them."""
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return hashlib.sha256(little.reshape(-1).view(np.uint8)).hexdigest()


def _checksums(meta: dict, arrays: dict[str, np.ndarray]) -> str:
    tensors = {name: _sha256_of_tensor(array) for name, array in arrays.items()}
    return _dumps({"metadata": _sha256_of_metadata(meta), "tensors": tensors})


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
        "network": _dumps(network_config(net)),
        "tensors": _dumps(sorted(extras)),
        "user": _user_json(metadata),
    }
    params = np.ascontiguousarray(net.xp.to_host(net.params), dtype=net.dtype.newbyteorder("<"))
    arrays = {_PARAMS: params, **extras}
    header[_CHECKSUM] = _checksums(header, arrays)
    blob = safetensors.numpy.save(arrays, metadata=header)
    atomic_write(path, _canonical(blob))


# -- loading -------------------------------------------------------------------------------


def _check_header_length(reader: ConfigReader, path: str) -> None:
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


def load_with_metadata(
    path: str | os.PathLike, device: str | None = None
) -> tuple[Network, dict, dict[str, np.ndarray]]:
    """Load a network saved by ``save``, with its user metadata and extra tensors; the network
    is put on ``device`` (as ``Network.to``), the tensors stay numpy arrays. A file reads the
    same whichever device wrote it.

    Returns ``(net, metadata, tensors)``. Raises ValueError naming the file for anything that is
    not a valid backprop model file (wrong format, newer format version, unknown activation or
    loss, tensors of the wrong shape or dtype, non-finite weights, corrupt bytes, bytes that do
    not match the stored checksums), and
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
    backend = None if device is None else device_backend(device)  # refused before reading
    reader = ConfigReader(path)
    safetensors = _safetensors()
    _check_header_length(reader, path)
    try:
        with safetensors.safe_open(path, framework="numpy") as handle:
            net, user, tensors = _read(reader, handle)
    except (ModelFileError, OSError):
        raise
    except Exception as error:  # SafetensorError (a plain Exception) and anything unforeseen
        raise reader.error(f"not a valid model file ({type(error).__name__}: {error})") from None
    return (net if backend is None else net.to(backend)), user, tensors


def _read(reader: ConfigReader, handle) -> tuple[Network, dict, dict[str, np.ndarray]]:
    meta = handle.metadata() or {}
    _check_format(reader, meta)
    config, user, extra_names = _read_metadata(reader, meta)
    _check_tensor_names(reader, set(handle.keys()), extra_names)
    n_params = _check_params_layout(reader, handle.get_slice(_PARAMS), config)
    net = reader.build(config)
    params = np.asarray(handle.get_tensor(_PARAMS))
    if params.dtype != net.dtype or params.shape != (n_params,):
        raise reader.error(f"tensor {_PARAMS!r} does not match the network")
    if not np.isfinite(params).all():
        raise reader.error("weights contain non-finite values (NaN or infinity)")
    tensors = {name: np.array(handle.get_tensor(name)) for name in sorted(extra_names)}
    _verify_checksums(reader, meta, {_PARAMS: params, **tensors})
    net.set_params(params)
    return net, user, tensors


def _verify_checksums(reader: ConfigReader, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Refuse a file whose metadata or tensor bytes differ from what was written."""
    if _CHECKSUM not in meta:  # written before checksums were stored
        unknown = sorted(set(meta) - _UNSIGNED_ENTRIES)
        if unknown:
            raise reader.error(f"the metadata has no checksum and an unknown entry {unknown[0]!r}")
        return
    sums = reader.json(meta[_CHECKSUM], "the checksum entry")
    if not (
        isinstance(sums, dict)
        and set(sums) == {"metadata", "tensors"}
        and isinstance(sums["tensors"], dict)
        and set(sums["tensors"]) == set(arrays)
    ):
        raise reader.error("the checksum entry does not list the metadata and every tensor")
    damaged = "does not match its SHA-256 checksum: the file is damaged"
    if sums["metadata"] != _sha256_of_metadata(meta):
        raise reader.error(f"the metadata {damaged}")
    for name in sorted(arrays):
        if sums["tensors"][name] != _sha256_of_tensor(arrays[name]):
            raise reader.error(f"tensor {name!r} {damaged}")


def _check_format(reader: ConfigReader, meta: dict) -> None:
    """Refuse files that are not ours, and files from a format this version cannot read."""
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


def _read_metadata(reader: ConfigReader, meta: dict) -> tuple[dict, dict, list[str]]:
    """(network config, user metadata, extra tensor names), each checked."""
    if "network" not in meta:
        raise reader.error("the metadata has no network config")
    config = reader.network_config(meta["network"])
    user = reader.json(meta.get("user", "{}"), "the user metadata")
    if not isinstance(user, dict):
        raise reader.error("the user metadata must be a JSON object")
    extra_names = reader.json(meta.get("tensors", "[]"), "the tensor list")
    if not isinstance(extra_names, list) or not all(isinstance(n, str) for n in extra_names):
        raise reader.error("the tensor list must be a JSON list of names")
    return config, user, extra_names


def _check_tensor_names(reader: ConfigReader, keys: set[str], extra_names: list[str]) -> None:
    expected = {_PARAMS, *extra_names}
    if _PARAMS not in keys:
        raise reader.error(f"the tensor {_PARAMS!r} is missing")
    missing, unexpected = sorted(expected - keys), sorted(keys - expected)
    if missing:
        raise reader.error(f"tensor {missing[0]!r} is missing")
    if unexpected:
        raise reader.error(f"unexpected tensor {unexpected[0]!r}")


def _check_params_layout(reader: ConfigReader, view, config: dict) -> int:
    """The parameter count, once the stored shape and dtype match the config (nothing read yet)."""
    n_params = reader.n_params(config)
    shape, code = list(view.get_shape()), view.get_dtype()
    if shape != [n_params]:
        raise reader.error(
            f"tensor {_PARAMS!r} has shape {tuple(shape)}, the architecture needs ({n_params},)"
        )
    if code != DTYPE_CODES[config["dtype"]]:
        raise reader.error(
            f"tensor {_PARAMS!r} has dtype {code}, the network is {config['dtype']} "
            f"({DTYPE_CODES[config['dtype']]})"
        )
    return n_params


def load(path: str | os.PathLike, device: str | None = None) -> Network:
    """Load a network saved by ``save``, onto ``device`` (``"cpu"`` by default, ``"cuda"``, see
    ``Network``); see ``load_with_metadata`` for the errors.

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
    return load_with_metadata(path, device)[0]
