"""Files: model files (safetensors, data only, never code), atomic writes and CSV tables.

``backprop.io.save`` / ``load`` / ``load_with_metadata`` read and write model files; see
``backprop.io.model_file`` for the format and ``backprop.io.config`` for the network config it
stores. Model files need only the engine (what a network is), so the training package's
checkpoints are written with them.
"""

from ..engine.extensions import provide
from .atomic import atomic_write
from .config import decode_floats, encode_floats
from .model_file import FORMAT_NAME, FORMAT_VERSION, load, load_with_metadata, save

provide("save", save)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "atomic_write",
    "decode_floats",
    "encode_floats",
    "load",
    "load_with_metadata",
    "save",
]
