"""The plain backend: the array module alone, and the registry of backends by name."""

from __future__ import annotations

import contextlib
from types import ModuleType

import numpy as np

DTYPES = ("float32", "float64")


def resolve_dtype(dtype: object) -> np.dtype:
    """Return the numpy dtype for ``"float32"`` or ``"float64"`` (or a dtype object)."""
    if dtype is None:
        raise TypeError(f"dtype must be one of {DTYPES}, got None")
    try:
        resolved = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"dtype must be one of {DTYPES}, got {dtype!r}") from error
    if resolved.name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {resolved.name!r}")
    return resolved


class ScratchCache:
    """A work array kept between calls and remade when the shape or dtype asked for changes.

    Pickles and copies do not carry it (it is a cache).
    """

    def __init__(self) -> None:
        self.array = None

    def __getstate__(self) -> dict:
        return {"array": None}

    def get(self, xp: Backend, shape: tuple, dtype):
        array = self.array
        if array is None or array.shape != shape or array.dtype != dtype or not xp.owns(array):
            array = self.array = xp.empty(shape, dtype)
        return array


class Backend:
    """An array module and the operations the engine asks of it, in their plain forms.

    Attribute access falls through to the array module, so ``backend.exp`` is the module's
    ``exp``; each function is looked up once and then kept on the object.
    """

    name = "generic"
    device = "cpu"
    """Where the arrays live: ``"cpu"`` or ``"cuda:N"`` (``net.device``)."""
    loss_log_rows: int | None = None
    """Rows of outputs the training loss log holds before the host reads it; ``None`` reads
    once per epoch (a device keeps computing while nothing waits for it)."""

    def __init__(self, module: ModuleType, name: str | None = None) -> None:
        self.module = module
        if name is not None:
            self.name = name

    def __getattr__(self, attribute: str):
        if attribute.startswith("__") or attribute == "module":
            raise AttributeError(attribute)
        value = getattr(self.module, attribute)
        setattr(self, attribute, value)
        return value

    def __getstate__(self) -> dict:
        return {"name": self.name}  # the array module's functions are looked up again

    def __reduce__(self):
        return get_backend, (self.name,)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # -- arrays crossing between host and device ----------------------------------------------
    def owns(self, array) -> bool:
        """True for an array of this backend's kind."""
        return isinstance(array, self.module.ndarray)

    def asarray(self, host_array, dtype=None):
        """A host (numpy) array as this backend's array: a copy onto the device, if any."""
        return self.module.asarray(host_array, dtype=dtype)

    def to_host(self, array) -> np.ndarray:
        """This backend's array as a numpy array (a device-to-host copy where there is one)."""
        return np.asarray(array)

    def errstate(self, **settings):
        """numpy's floating-point error settings, where the array module has them."""
        return contextlib.nullcontext()

    # -- random numbers ----------------------------------------------------------------------
    def random_generator(self, seed):
        """The generator for initial weights, shuffling and dropout, seeded by ``seed``."""
        return np.random.default_rng(seed)

    def rng_state(self, rng) -> dict:
        """The generator's state as plain data (checkpoints store it)."""
        return rng.bit_generator.state

    def set_rng_state(self, rng, state: dict) -> None:
        rng.bit_generator.state = state

    def permutation(self, rng, n: int):
        """A random order of 0..n−1 as this backend's array."""
        return self.asarray(rng.permutation(n))

    def uniform_into(self, rng, out) -> None:
        """Fill ``out`` with uniform numbers in [0, 1) (dropout masks)."""
        out[...] = self.asarray(rng.random(out.shape, dtype=out.dtype))

    # -- the operations a device may do its own way ------------------------------------------
    def row_sum(self, x):
        """Σₖ x[n, k] for every row n."""
        return x.sum(axis=1)

    def row_dot(self, x, y):
        """Σₖ x[n, k]·y[n, k] for every row n."""
        return self.module.einsum("nk,nk->n", x, y)

    def row_max(self, x):
        """maxₖ x[n, k] for every row n (NaN wins)."""
        return x.max(axis=1)

    def positive_part(self, z, out) -> None:
        """out = max(z, 0)."""
        self.module.maximum(z, 0, out=out)

    def positive_indicator(self, a, out) -> None:
        """out = 1 where a > 0, else 0, for a ≥ 0 (a NaN stays NaN)."""
        self.module.sign(a, out=out)  # for a ≥ 0: 0, 1, or NaN passed on

    def layer_kernel(self, kind: str, activation, width: int | None = None):
        """One kernel doing the element-wise work of ``kind`` for a layer of ``activation``
        and ``width`` units, or ``None`` (here, always): ``"forward"`` (zˡ += bˡ and
        aˡ = f(zˡ)), ``"delta"`` (δˡ = f'(zˡ) ⊙ ∂E/∂aˡ and sₙδˡₙ) or ``"output_delta"``
        (δᴸ = o − y and sₙδᴸₙ). Where it is ``None`` the delta rule runs its plain lines; a GPU
        backend fuses them (``backprop.gpu.layer_kernels``)."""
        return None

    def gather_rows(self, source, rows, out) -> None:
        """out = source[rows] (a shuffled batch)."""
        self.module.take(source, rows, axis=0, out=out)

    def scalar(self, value):
        """A scalar result as this backend keeps it: here a 0-d array the host does not wait
        for until something reads it."""
        return value

    def squared_norm(self, x):
        """Σ x² of a flat buffer, as a scalar of this backend."""
        return self.module.vdot(x, x)

    def global_norm(self, x):
        """‖x‖₂ of a flat buffer, as a scalar of this backend."""
        return self.module.sqrt(self.squared_norm(x))

    def clip_to_norm(self, x, max_norm: float):
        """x ← x·min(1, max_norm/‖x‖) in place, unless ‖x‖ is inf or NaN; returns ‖x‖."""
        xp = self.module
        norm = self.global_norm(x)
        clip = xp.isfinite(norm) & (norm > max_norm)
        x *= xp.where(clip, max_norm / xp.where(clip, norm, 1), 1).astype(x.dtype)
        return norm

    def streams(self, nbytes: int) -> bool:
        """Whether training data of ``nbytes`` stays in host memory and is streamed to the
        device batch by batch (``stream_batches``) instead of being copied over whole."""
        return False

    def stream_batches(self, data, size: int):
        """The batches of ``data`` whose inputs and targets are in host memory, for a device
        that streams them; ``None`` here (the data is already where it is used)."""
        return None

    def wrap_step(self, step):
        """The training step as this device runs it: here ``step`` itself (a GPU backend
        replays it from a CUDA graph)."""
        return step

    def elementwise(self, name: str, kernel, arrays, constants, cache: ScratchCache) -> None:
        """Run the element-wise update ``kernel(xp, *arrays, scratch, *constants)`` once over
        the whole buffers; ``name`` names it for backends with compiled twins."""
        first = arrays[0]
        kernel(self, *arrays, cache.get(self, first.shape, first.dtype), *constants)


_BACKENDS: dict[str, Backend] = {}


def register_backend(backend: Backend) -> Backend:
    """Make ``backend`` available by its name to ``get_backend`` and ``backend_for``."""
    if not isinstance(backend, Backend):
        raise TypeError(f"register_backend needs a Backend, got {type(backend).__name__}")
    _BACKENDS[backend.name] = backend
    return backend


def get_backend(spec: str | Backend | None = None) -> Backend:
    """The backend called ``spec`` (default ``"numpy"``), or a ``Backend`` passed through."""
    if spec is None:
        spec = "numpy"
    if isinstance(spec, Backend):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"backend must be a name or a Backend, got {type(spec).__name__}")
    try:
        return _BACKENDS[spec]
    except KeyError:
        known = ", ".join(sorted(_BACKENDS))
        raise ValueError(f"unknown backend {spec!r}; known: {known}") from None


def backend_for(array) -> Backend:
    """The backend that owns ``array`` (the latest registered first); numpy for anything else."""
    for backend in reversed(_BACKENDS.values()):
        if backend.owns(array):
            return backend
    return _BACKENDS["numpy"]
