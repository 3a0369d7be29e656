"""A stand-in for CuPy built on numpy, so that ``CupyBackend`` runs its own code on the CPU.

Its arrays are a numpy subclass with CuPy's ``.device.id``; every function of the module returns
them; ``ElementwiseKernel`` runs the kernel's CUDA C source, translated line by line into numpy
(the sources are simple statements: ``T x = expr;``, ``out = expr;``, ``out -= expr;``,
``out += expr;``, with CUDA's math functions and ``c ? x : y`` as a whole expression), and
``random.RandomState`` is numpy's legacy generator with cuRAND's ``seed``/``permutation``/
``random_sample`` calls. What it cannot show is CUDA itself: compiling the kernels, cuRAND's
numbers, and speed, which ``tests/gpu`` checks on a GPU.
"""

from __future__ import annotations

import ctypes
import re
import sys
import types

import numpy as np
from fake_cuda import (  # noqa: F401 (the tests reach them as fake_cupy's)
    Event,
    ReplayedGraph,
    Stream,
    capturing,
    get_elapsed_time,
    memory_pool,
    refuse_in_capture,
    using_allocator,
)

from backprop.gpu import blas, graphs


def _refuse_host_arrays(values, what: str) -> None:
    """CuPy raises TypeError for a numpy array among its arguments (numpy scalars pass)."""
    for value in values:
        if isinstance(value, (list, tuple)):
            _refuse_host_arrays(value, what)
        elif type(value) is np.ndarray:
            raise TypeError(f"{what}: a numpy array given to CuPy (move it to the device first)")


def _plain(value):
    return value.view(np.ndarray) if isinstance(value, FakeDeviceArray) else value


class FakeDeviceArray(np.ndarray):
    """numpy's array with CuPy's ``device`` attribute, refusing host arrays as CuPy does."""

    @property
    def device(self):
        return types.SimpleNamespace(id=0)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        _refuse_host_arrays([*inputs, *(out or ())], ufunc.__name__)
        if ufunc is np.matmul:  # ``a @ b``: cupy.matmul
            refuse_in_capture("the @ operator (cupy.matmul, CuPy's cuBLAS calls)")
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        result = getattr(ufunc, method)(*(_plain(x) for x in inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _device(result)

    def __float__(self):
        refuse_in_capture("float() of a device array")
        return float(self.view(np.ndarray))

    def __int__(self):
        refuse_in_capture("int() of a device array")
        return int(self.view(np.ndarray))

    def __bool__(self):
        refuse_in_capture("bool() of a device array")
        return bool(self.view(np.ndarray))

    def item(self, *args):
        refuse_in_capture("item() of a device array")
        return self.view(np.ndarray).item(*args)

    def tolist(self):
        refuse_in_capture("tolist() of a device array")
        return self.view(np.ndarray).tolist()

    def __getitem__(self, key):
        if isinstance(key, np.ndarray) and key.dtype == bool:
            refuse_in_capture("indexing by a boolean mask (its size is read on the host)")
        return _device(np.ndarray.__getitem__(self, key))  # CuPy gives 0-d arrays, not scalars

    def __setitem__(self, key, value):
        _refuse_host_arrays([value], "assignment into a device array")
        np.ndarray.__setitem__(self.view(np.ndarray), key, _plain(value))

    @property
    def data(self):
        """CuPy's memory pointer: here the address of the first element in host memory."""
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])

    def set(self, host, stream=None) -> None:
        """CuPy's copy of a host array into this one (logged in ``Stream.log``)."""
        assert type(host) is np.ndarray and host.shape == self.shape, "set() takes host arrays"
        refuse_in_capture("a copy from host memory")
        np.ndarray.__setitem__(self.view(np.ndarray), ..., host)
        Stream.log.append(("copy", host, stream))


def _device(value):
    if isinstance(value, np.ndarray) and not isinstance(value, FakeDeviceArray):
        return value.view(FakeDeviceArray)
    if isinstance(value, np.generic):
        return np.asarray(value).view(FakeDeviceArray)
    return value


def _names(params: str) -> list[str]:
    return [part.split()[-1] for part in params.split(",")]


def _check_names(inputs: list[str], outputs: list[str], kernel: str, taken=("i",)) -> None:
    """A kernel whose parameters share a name does not compile, and CuPy's generated code
    takes some names itself (``i``; ``a`` and ``b`` in a reduction)."""
    names = inputs + outputs
    assert len(set(names)) == len(names), f"{kernel}: a parameter name repeats in {names}"
    assert not set(names) & set(taken), f"{kernel}: {names} takes one of CuPy's {taken}"


def _gather_rows(source, order, cursors, width, out, logged=None):
    """``walk.GATHER`` (and ``GATHER_LOGGED`` with ``logged``), element i of ``out`` at a time
    as CUDA runs it, in numpy."""
    i = np.arange(out.size)
    value = source.reshape(-1)[order[cursors[0] + i // width] * width + i % width]
    out[...] = value.astype(out.dtype).reshape(out.shape)
    if logged is not None:
        logged.reshape(-1)[cursors[1] * width + i] = out.reshape(-1)


def _log_rows(values, cursors, width, logged):
    """``walk.LOG`` in numpy."""
    logged.reshape(-1)[cursors[1] * width + np.arange(values.size)] = values.reshape(-1)


def _set_cursors(position, log_row, cursors):
    """``walk.SET_CURSORS`` in numpy."""
    cursors[...] = (position, log_row)


def _softmax_rows(b, width, z, a, size):
    """``layer_kernels.SOFTMAX_ROWS`` in numpy: rows of ``width``, ``size`` of them."""
    assert size * width == z.size == a.size, (size, width, z.shape)
    rows, out = z.reshape(size, width), a.reshape(size, width)
    rows += b
    # m = v > m ? v : m may pass a NaN by, as fmax does: its row comes out all NaN either way
    np.exp(rows - np.fmax.reduce(rows, axis=1, keepdims=True), out=out)
    out /= out.sum(axis=1, keepdims=True)


INDEXED = {
    "backprop_forward_softmax": _softmax_rows,
    "backprop_gather_rows": _gather_rows,
    "backprop_gather_rows_logged": _gather_rows,
    "backprop_log_rows": _log_rows,
    "backprop_set_cursors": _set_cursors,
}
"""Kernels that index raw arrays, which the statements' interpretation below cannot run: each
is its operation written in numpy."""


CUDA_FUNCTIONS = {
    "sqrt": np.sqrt,
    "exp": np.exp,
    "tanh": np.tanh,
    "log1p": np.log1p,
    "fabs": np.abs,
    "fmax": np.fmax,  # CUDA's fmax, as numpy's, returns the other argument for a NaN
    "where": np.where,
}
"""The CUDA math functions the kernels call, as numpy's (``T`` is added: the arrays' type)."""


def _conditional(expression: str) -> str:
    """C's ``c ? x : y`` spanning a whole expression as numpy's ``where(c, x, y)``.

    >>> _conditional("z < 0 ? 0 : z")
    'where(z < 0, 0, z)'
    """
    found = re.fullmatch(r"([^?:]+)\?([^?:]+):([^?:]+)", expression)
    if found is None:
        assert "?" not in expression, f"a conditional inside an expression: {expression}"
        return expression
    return "where({}, {}, {})".format(*(part.strip() for part in found.groups()))


class ElementwiseKernel:
    """CuPy's element-wise kernel, run as numpy over whole arrays."""

    compiled: list = []

    def __init__(self, in_params: str, out_params: str, operation: str, name: str) -> None:
        self.inputs, self.outputs = _names(in_params), _names(out_params)
        self.typed_t = [part.split()[0] == "T" for part in f"{in_params},{out_params}".split(",")]
        self.name = name
        _check_names(self.inputs, self.outputs, name)
        self.statements = []
        if name in INDEXED:
            ElementwiseKernel.compiled.append(name)
            return
        for statement in filter(None, (s.strip() for s in operation.split(";"))):
            statement = re.sub(r"^T\s+", "", statement)  # a local: T x = ...
            target, operator, expression = re.match(r"(\w+)\s*([-+]?=)\s*(.*)", statement).groups()
            if target in self.outputs and operator == "=":
                target += "[...]"  # written into the output array, as CUDA does
            self.statements.append(f"{target} {operator} {_conditional(expression)}")
        ElementwiseKernel.compiled.append(name)

    def __call__(self, *args, size=None):
        assert len(args) == len(self.inputs) + len(self.outputs), self.name
        if self.name in INDEXED:
            plain = [a.view(np.ndarray) if isinstance(a, np.ndarray) else a for a in args]
            INDEXED[self.name](*plain, **({} if size is None else {"size": size}))
            return
        assert size is None, f"{self.name}: size= is for kernels of raw arrays only"
        dtype = args[len(self.inputs)].dtype  # the first output, the parameters
        for value, typed_t in zip(args, self.typed_t, strict=True):
            # the scalars must arrive in the arrays' dtype (CuPy's T)
            assert not typed_t or np.asarray(value).dtype == dtype, (self.name, value.dtype)
        plain = [a.view(np.ndarray) if isinstance(a, np.ndarray) else a for a in args]
        scope = {**CUDA_FUNCTIONS, "T": dtype.type}
        scope.update(zip(self.inputs + self.outputs, plain, strict=True))
        for statement in self.statements:
            exec(statement, {}, scope)


class ReductionKernel:
    """CuPy's reduction kernel, for sums of an element-wise expression of its inputs, over
    all axes or one."""

    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity,
                 name) -> None:  # fmt: skip
        (output,) = _names(out_params)
        assert (reduce_expr, post_map_expr, identity) == ("a + b", f"{output} = a", "0"), name
        self.inputs, self.map_expr = _names(in_params), map_expr
        _check_names(self.inputs, [output], name, taken=("a", "b"))
        ElementwiseKernel.compiled.append(name)

    def __call__(self, *args, axis=None):
        assert len(args) == len(self.inputs) and len({a.dtype for a in args}) == 1
        scope = dict(zip(self.inputs, map(_plain, args), strict=True))
        value = eval(self.map_expr, {}, scope)
        return _device(np.asarray(value.sum(axis=axis, dtype=args[0].dtype)))


def column_major_gemm(gemm: blas.Gemm, a_buffer, b_buffer, c_buffer) -> None:
    """What cuBLAS computes for ``gemm`` on flat buffers, in numpy: C :=
    op(B)·op(A), column-major, with the leading dimensions given."""

    def matrix(buffer, rows, cols, ld):
        return np.lib.stride_tricks.as_strided(
            buffer, (rows, cols), (buffer.itemsize, ld * buffer.itemsize)
        )

    rows_b, cols_b = (gemm.k, gemm.m) if gemm.op_b == blas.OP_T else (gemm.m, gemm.k)
    rows_a, cols_a = (gemm.n, gemm.k) if gemm.op_a == blas.OP_T else (gemm.k, gemm.n)
    op_b = matrix(b_buffer, rows_b, cols_b, gemm.ldb)
    op_a = matrix(a_buffer, rows_a, cols_a, gemm.lda)
    op_b = op_b.T if gemm.op_b == blas.OP_T else op_b
    op_a = op_a.T if gemm.op_a == blas.OP_T else op_a
    matrix(c_buffer, gemm.m, gemm.n, gemm.ldc)[...] = op_b @ op_a


class CublasLibrary:
    """cuBLAS's C functions as ``blas.Cublas`` calls them through ctypes, computing on the
    memory the pointers address (the stand-in's arrays are host memory) by
    ``column_major_gemm``, and checking the arguments as cuBLAS does."""

    INVALID_VALUE = 7

    def __init__(self) -> None:
        self.math, self.streams, self.calls = 0, [], 0

    def cublasCreate_v2(self, handle_ref):
        handle_ref._obj.value = 1
        return 0

    def cublasSetStream_v2(self, handle, stream):
        self.streams.append(stream.value or 0)
        return 0

    @property
    def stream(self) -> int:
        """The stream the handle's products run on."""
        return self.streams[-1] if self.streams else 0

    def cublasSetWorkspace_v2(self, handle, workspace, size):
        return 0 if workspace.value and size.value > 0 else self.INVALID_VALUE

    def cublasSetMathMode(self, handle, mode):
        self.math = mode
        return 0

    def cublasSgemm_v2(self, *args):
        return self._gemm(ctypes.c_float, *args)

    def cublasDgemm_v2(self, *args):
        return self._gemm(ctypes.c_double, *args)

    def cublasGemmEx(self, handle, op_b, op_a, m, n, k, alpha, b, b_type, ldb, a, a_type, lda,
                     beta, c, c_type, ldc, compute, algorithm):  # fmt: skip
        assert (a_type, b_type, c_type) == (blas.R_32F,) * 3 and algorithm == blas.GEMM_DEFAULT
        assert compute == blas.COMPUTE_32F_FAST_16BF, compute
        args = (handle, op_b, op_a, m, n, k, alpha, b, ldb, a, lda, beta, c, ldc)
        return self._gemm(ctypes.c_float, *args, round_inputs=to_bf16)

    def _gemm(self, scalar, handle, op_b, op_a, m, n, k, alpha, b, ldb, a, lda, beta, c, ldc,
              round_inputs=None):  # fmt: skip
        assert (alpha._obj.value, beta._obj.value) == (1.0, 0.0)
        if Stream.capturing is not None and self.stream != Stream.capturing.ptr:
            refuse_in_capture(f"a cuBLAS product on stream {self.stream}, not the captured one")
        gemm = blas.Gemm(op_b, op_a, m, n, k, ldb, lda, ldc)
        stored = {
            "b": (k, m) if op_b == blas.OP_T else (m, k),
            "a": (n, k) if op_a == blas.OP_T else (k, n),
            "c": (m, n),
        }
        leading = {"b": ldb, "a": lda, "c": ldc}
        if any(leading[x] < max(1, rows) for x, (rows, _) in stored.items()):
            return self.INVALID_VALUE
        buffers = {}
        for x, pointer in (("b", b), ("a", a), ("c", c)):
            rows, cols = stored[x]
            extent = (cols - 1) * leading[x] + rows
            typed = ctypes.cast(pointer.value, ctypes.POINTER(scalar))
            buffers[x] = np.ctypeslib.as_array(typed, (extent,))
        if round_inputs is None and self.math == blas.TF32_TENSOR_OP_MATH:
            round_inputs = to_tf32 if scalar is ctypes.c_float else None
        if round_inputs is not None:
            buffers["a"], buffers["b"] = round_inputs(buffers["a"]), round_inputs(buffers["b"])
        column_major_gemm(gemm, buffers["a"], buffers["b"], buffers["c"])
        self.calls += 1
        return 0


class RandomState:
    draws: list = []  # (method, size) of every permutation and uniform draw, for the tests

    def __init__(self, seed=0, method=None) -> None:
        self.method = method
        self.seed(seed)

    def seed(self, seed) -> None:
        seed = int(np.asarray(seed).astype(np.uint64, casting="safe"))  # as CuPy checks it
        self._numpy = np.random.RandomState(seed % 2**32)

    def permutation(self, n):
        assert isinstance(n, int), "CuPy permutes a range only for a Python int"
        refuse_in_capture("a cuRAND draw")
        RandomState.draws.append(("permutation", n))
        return _device(self._numpy.permutation(n))

    def random_sample(self, size=None, dtype=float):
        refuse_in_capture("a cuRAND draw")
        RandomState.draws.append(("random_sample", size))
        return _device(self._numpy.random_sample(size).astype(dtype))


class _Device:
    capability = "90"  # CuPy gives major and minor as one string: "90" for an H100 or H200

    def __init__(self, index=0) -> None:
        self.index = index

    @property
    def compute_capability(self) -> str:
        return self.capability

    def synchronize(self) -> None:
        refuse_in_capture("waiting for the device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


COMPUTE_TYPE_DEFAULT, COMPUTE_TYPE_TF32 = 1, 7  # CuPy's values (cupy._core._routines_linalg)


def to_tf32(array: np.ndarray) -> np.ndarray:
    """float32 values rounded to TF32's 10-bit mantissa (to nearest, ties away from zero),
    still stored as float32."""
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(1 << 12)) & np.uint32(0xFFFFE000)
    return rounded.view(np.float32).reshape(np.shape(array))


def to_bf16(array: np.ndarray) -> np.ndarray:
    """float32 values rounded to bfloat16's 7-bit mantissa (to nearest, ties to even; NaN stays
    NaN), still stored as float32."""
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) & np.uint32(0xFFFF0000)
    rounded = np.where(np.isnan(array), bits, rounded).astype(np.uint32)
    return rounded.view(np.float32).reshape(np.shape(array))


def _core(compute_types: dict) -> types.SimpleNamespace:
    """CuPy's compute-type setting: one per dtype for the process, DEFAULT until set."""

    def set_compute_type(dtype, compute_type) -> None:
        compute_types[np.dtype(dtype)] = compute_type

    return types.SimpleNamespace(
        get_compute_type=lambda dtype: compute_types.get(np.dtype(dtype), COMPUTE_TYPE_DEFAULT),
        set_compute_type=set_compute_type,
        _routines_linalg=types.SimpleNamespace(
            COMPUTE_TYPE_DEFAULT=COMPUTE_TYPE_DEFAULT, COMPUTE_TYPE_TF32=COMPUTE_TYPE_TF32
        ),
    )


CUBLAS_CALLS = frozenset({"dot", "einsum", "inner", "matmul", "tensordot", "vdot"})
"""CuPy functions that call cuBLAS, which CuPy refuses while a stream is being captured."""
SIZED_BY_VALUES = frozenset({"argwhere", "flatnonzero", "nonzero", "unique"})
"""CuPy functions whose result's size depends on the values, read back to the host."""


def make(
    device_count: int = 1, capability: str = "90", free_memory: int = 64 << 30
) -> types.ModuleType:
    """A module that imports as ``cupy``, on ``device_count`` GPUs of this compute
    ``capability`` with ``free_memory`` bytes free; its float32 products round their inputs to
    TF32 once that is set."""

    module = types.ModuleType("cupy")
    module.__version__ = "0.0-fake"
    module.ndarray = FakeDeviceArray
    module.ElementwiseKernel = ElementwiseKernel
    module.random = types.SimpleNamespace(RandomState=RandomState)
    device = type("Device", (_Device,), {"capability": capability})
    compute_types: dict = {}
    module._core = _core(compute_types)
    module.ReductionKernel = ReductionKernel
    module.cuda = types.SimpleNamespace(
        Device=device,
        curand=types.SimpleNamespace(CURAND_RNG_PSEUDO_PHILOX4_32_10=4),
        runtime=types.SimpleNamespace(getDeviceCount=lambda: device_count),
        device=types.SimpleNamespace(get_cublas_handle=lambda: 0),
        get_current_stream=Stream.current,
        using_allocator=using_allocator,
        Stream=Stream,
        alloc_pinned_memory=bytearray,
        Event=Event,
        get_elapsed_time=get_elapsed_time,
        MemoryPool=memory_pool,
    )
    module.cuda.runtime.memGetInfo = lambda: (free_memory, 2 * free_memory)
    module.cuda.runtime.getDeviceProperties = lambda index: {"name": b"numpy stand-in"}
    module.get_default_memory_pool = memory_pool

    def asnumpy(array):
        refuse_in_capture("a copy to host memory")
        return np.array(np.asarray(array).view(np.ndarray), copy=True)

    module.asnumpy = asnumpy

    def asarray(value, dtype=None):
        if not isinstance(value, FakeDeviceArray):
            refuse_in_capture("a copy from host memory")
        return np.array(np.asarray(value), dtype=dtype, copy=True).view(FakeDeviceArray)

    module.asarray = asarray

    def matmul(a, b, out=None):
        _refuse_host_arrays([a, b, out], "matmul")
        refuse_in_capture("cupy.matmul (CuPy's cuBLAS calls)")
        a, b = _plain(a), _plain(b)
        if module._core.get_compute_type(np.float32) == COMPUTE_TYPE_TF32:
            a, b = (to_tf32(x) if x.dtype == np.float32 else x for x in (a, b))
        if out is None:
            return _device(np.matmul(a, b))
        np.matmul(a, b, out=_plain(out))
        return out

    module.matmul = matmul

    def fallback(name):
        value = getattr(np, name)
        if isinstance(value, type) or not callable(value):
            return value

        def call(*args, **kwargs):
            _refuse_host_arrays([*args, *kwargs.values()], name)
            if name in CUBLAS_CALLS:
                refuse_in_capture(f"cupy.{name} (CuPy's cuBLAS calls)")
            if name in SIZED_BY_VALUES:
                refuse_in_capture(f"cupy.{name} (its size is read on the host)")
            return _device(value(*args, **kwargs))

        return call

    module.__getattr__ = fallback
    return module


def install(monkeypatch, **options):
    """``import cupy`` gives a stand-in made with ``options`` (``make``), whose cuBLAS is
    ``CublasLibrary`` and whose graphs are ``ReplayedGraph``s, for the test's duration."""
    module = make(**options)
    module.cublas = CublasLibrary()
    Stream.reset()
    monkeypatch.setitem(sys.modules, "cupy", module)
    monkeypatch.setattr(blas, "load_cublas", lambda cupy: cupy.cublas)
    monkeypatch.setattr(graphs, "capture", capturing(graphs.capture))
    return module
