"""Matrix products by cuBLAS called directly, so that a training step can be captured whole.

CuPy refuses every cuBLAS call while a stream is being captured into a CUDA graph (its
wrappers raise ``NotImplementedError``), so ``cupy.matmul`` cannot be part of a captured step.
cuBLAS itself supports capture, given a workspace set in advance (nothing may be allocated
inside a graph): this module calls ``cublasSgemm``/``cublasDgemm`` through ``ctypes`` on a
handle of its own with a preset workspace, on whatever stream is current, captured or not.
The same call serves the eager step and the captured one, so a replayed graph computes
exactly what the step computes kernel by kernel.

cuBLAS is column-major and backprop's arrays row-major. A row-major matrix M (r × c) with rows
``ld`` elements apart is, to cuBLAS, the column-major matrix Mᵀ (c × r) with leading dimension
``ld``, and a column-major (Fortran-ordered) view, such as ``W.T`` of a row-major W, is M
itself. C = A·B is computed as Cᵀ = Bᵀ·Aᵀ, each operand transposed or not as its layout needs
(``plan``), with no copies.

The library is the one CuPy has loaded (found in the process's memory map), so the two never
disagree on the CUDA version.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

import numpy as np

from .precision import float32_products

OP_N, OP_T = 0, 1  # cublasOperation_t
DEFAULT_MATH, TF32_TENSOR_OP_MATH = 0, 3  # cublasMath_t
R_32F = 0  # cudaDataType_t: float32
COMPUTE_32F_FAST_16BF = 75  # cublasComputeType_t: float32 arrays, bfloat16 products
GEMM_DEFAULT = -1  # cublasGemmAlgo_t
INT_LIMIT = 1 << 31
"""cuBLAS's sizes and leading dimensions are C ints: a product with any above is left to CuPy."""
WORKSPACE_BYTES = 32 << 20
"""cuBLAS's workspace per handle: 32 MiB, what NVIDIA advises for Hopper."""


@dataclass(frozen=True)
class Operand:
    """A 2-D array as cuBLAS sees it: ``transposed`` when its column-major view is the array
    itself (a Fortran-ordered array) rather than its transpose, and its leading dimension."""

    transposed: bool
    ld: int


@dataclass(frozen=True)
class Gemm:
    """The arguments of one column-major product Cᵀ = op(B)·op(A) (m × n, inner k)."""

    op_b: int
    op_a: int
    m: int
    n: int
    k: int
    ldb: int
    lda: int
    ldc: int


def operand(shape: tuple[int, int], strides: tuple[int, int], itemsize: int) -> Operand | None:
    """How cuBLAS reads a 2-D array of ``shape`` and byte ``strides``; ``None`` when it cannot
    without a copy (a stride that is not a whole number of elements, negative, or neither
    layout).

    >>> operand((4, 3), (12, 4), 4)  # row-major: cuBLAS sees its transpose, 3 apart
    Operand(transposed=False, ld=3)
    >>> operand((3, 4), (4, 12), 4)  # the transpose of that: column-major
    Operand(transposed=True, ld=3)
    """
    rows, cols = shape
    if any(s % itemsize or s < 0 for s in strides):
        return None
    s0, s1 = (s // itemsize for s in strides)
    if (cols == 1 or s1 == 1) and (rows == 1 or s0 >= cols):
        return Operand(False, s0 if rows > 1 else max(cols, 1))
    if (rows == 1 or s0 == 1) and (cols == 1 or s1 >= rows):
        return Operand(True, s1 if cols > 1 else max(rows, 1))
    return None


def plan(a, b, out) -> Gemm | None:
    """The cuBLAS call for ``out = a @ b`` (2-D arrays, or a 1-D ``a`` or ``b`` as a row or a
    column), or ``None`` when one is needed that cuBLAS cannot read in place.

    >>> a, b = np.ones((5, 3), np.float32), np.ones((4, 3), np.float32)
    >>> plan(a, b.T, np.empty((5, 4), np.float32))  # z = u·Wᵀ
    Gemm(op_b=1, op_a=0, m=4, n=5, k=3, ldb=3, lda=3, ldc=4)
    """
    a2, b2 = _as_2d(a, "row"), _as_2d(b, "column")
    out2 = _as_2d(out, "column" if b.ndim == 1 else "row")
    if a2 is None or b2 is None or out2 is None:
        return None
    (m, k), (k_b, n) = a2[0], b2[0]
    if k != k_b or out2[0] != (m, n) or 0 in (m, n, k):
        return None
    itemsize = out.dtype.itemsize
    A, B, C = (operand(*x, itemsize) for x in (a2, b2, out2))
    if A is None or B is None or C is None or C.transposed:
        return None
    if max(m, n, k, A.ld, B.ld, C.ld) >= INT_LIMIT:
        return None  # cuBLAS takes 32-bit sizes
    # Cᵀ (n × m) = op(B) (n × k) · op(A) (k × m)
    return Gemm(
        OP_T if B.transposed else OP_N,
        OP_T if A.transposed else OP_N,
        n,
        m,
        k,
        B.ld,
        A.ld,
        C.ld,
    )


def _as_2d(x, as_vector: str):
    """(shape, strides) of ``x`` as a matrix: a 2-D array as it is, a vector as one row
    (``"row"``) or one column (``"column"``)."""
    if x.ndim == 2:
        return tuple(x.shape), tuple(x.strides)
    if x.ndim != 1:
        return None
    (size,), (stride,) = x.shape, x.strides
    if as_vector == "column":
        return (size, 1), (stride, x.dtype.itemsize)
    return (1, size), (size * x.dtype.itemsize, stride)


class CublasUnavailable(RuntimeError):
    """cuBLAS could not be reached directly; products go through ``cupy.matmul``."""


class Cublas:
    """A cuBLAS handle of its own, with a preset workspace, on one GPU.

    ``matmul(a, b, out)`` writes ``a @ b`` into ``out`` on CuPy's current stream and returns
    ``out``, or returns ``None`` for what it does not handle (then the caller uses
    ``cupy.matmul``). Products of float32 run as TF32 while CuPy's compute type for float32
    says so, and from bfloat16 inputs while ``precision.set_bf16`` says so.
    """

    def __init__(self, cupy, library: ctypes.CDLL) -> None:
        self.cupy, self.library = cupy, library
        handle = ctypes.c_void_p()
        self._check(library.cublasCreate_v2(ctypes.byref(handle)), "cublasCreate")
        self.handle = handle
        self.workspace = cupy.empty(WORKSPACE_BYTES, dtype=np.uint8)
        self._stream = None
        self._math = DEFAULT_MATH
        self._gemm = {
            np.dtype(np.float32): (library.cublasSgemm_v2, ctypes.c_float),
            np.dtype(np.float64): (library.cublasDgemm_v2, ctypes.c_double),
        }
        self._one = {dtype: scalar(1.0) for dtype, (_, scalar) in self._gemm.items()}
        self._zero = {dtype: scalar(0.0) for dtype, (_, scalar) in self._gemm.items()}

    def matmul(self, a, b, out=None):
        dtype = a.dtype
        if dtype not in self._gemm or b.dtype != dtype or a.ndim + b.ndim < 3:
            return None
        if out is None:
            out = self.cupy.empty(_result_shape(a, b), dtype)
        elif out.dtype != dtype:
            return None
        gemm = plan(a, b, out)
        if gemm is None:
            return None
        self._set_stream()
        products = float32_products(self.cupy) if dtype == np.float32 else "float64"
        self._set_math(TF32_TENSOR_OP_MATH if products == "tf32" else DEFAULT_MATH)
        one, zero = ctypes.byref(self._one[dtype]), ctypes.byref(self._zero[dtype])
        B, A, C = (ctypes.c_void_p(x.data.ptr) for x in (b, a, out))
        shape = (gemm.op_b, gemm.op_a, gemm.m, gemm.n, gemm.k)
        if products == "bf16":
            status = self.library.cublasGemmEx(
                self.handle, *shape, one, B, R_32F, gemm.ldb, A, R_32F, gemm.lda, zero, C,
                R_32F, gemm.ldc, COMPUTE_32F_FAST_16BF, GEMM_DEFAULT,
            )  # fmt: skip
        else:
            function, _ = self._gemm[dtype]
            status = function(self.handle, *shape, one, B, gemm.ldb, A, gemm.lda, zero, C,
                              gemm.ldc)  # fmt: skip
        self._check(status, "cublasGemm")
        return out

    def _set_stream(self) -> None:
        stream = self.cupy.cuda.get_current_stream().ptr
        if stream != self._stream:
            library = self.library
            self._check(library.cublasSetStream_v2(self.handle, ctypes.c_void_p(stream)), "stream")
            workspace = ctypes.c_void_p(self.workspace.data.ptr)
            size = ctypes.c_size_t(WORKSPACE_BYTES)
            self._check(library.cublasSetWorkspace_v2(self.handle, workspace, size), "workspace")
            self._stream = stream

    def _set_math(self, math: int) -> None:
        if math != self._math:
            self._check(self.library.cublasSetMathMode(self.handle, math), "math mode")
            self._math = math

    @staticmethod
    def _check(status: int, what: str) -> None:
        if status != 0:
            raise CublasUnavailable(f"{what} returned cuBLAS status {status}")


def _result_shape(a, b) -> tuple:
    if a.ndim == 1:
        return (b.shape[1],)
    if b.ndim == 1:
        return (a.shape[0],)
    return (a.shape[0], b.shape[1])


def direct_blas(cupy) -> Cublas | str:
    """A ``Cublas`` on the current GPU, checked against ``cupy.matmul`` on a few small products
    in every layout the engine uses, or the reason it cannot be used."""
    try:
        cublas = Cublas(cupy, load_cublas(cupy))
        mismatch = _first_mismatch(cupy, cublas)
    except (CublasUnavailable, AttributeError, OSError) as error:
        return f"cuBLAS could not be called directly ({error})"
    if mismatch is not None:
        return f"cuBLAS called directly disagreed with cupy.matmul on {mismatch}"
    return cublas


def _first_mismatch(cupy, cublas: Cublas) -> str | None:
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        u, W = (cupy.asarray(rng.standard_normal(s).astype(dtype)) for s in ((9, 5), (4, 5)))
        delta, s = cupy.asarray(rng.standard_normal((9, 4)).astype(dtype)), u[:, 0].copy()
        products = {
            "u·Wᵀ": (u, W.T),
            "δᵀ·u": (delta.T, u),
            "δ·W": (delta, W),
            "δ·W[:, 1:3]": (delta, W[:, 1:3]),
            "sᵀ·δ": (s, delta),
        }
        for name, (a, b) in products.items():
            got, expected = cublas.matmul(a, b), cupy.matmul(a, b)
            if got is None or not bool(cupy.allclose(got, expected, rtol=1e-3, atol=1e-3)):
                return f"{name} in {np.dtype(dtype).name}"
    return None


def load_cublas(cupy) -> ctypes.CDLL:
    """The cuBLAS library CuPy uses, opened with ``ctypes``; ``CublasUnavailable`` if not found."""
    cupy.cuda.device.get_cublas_handle()  # CuPy loads cuBLAS now, if it has not yet
    path = _mapped_library("libcublas.so") or ctypes.util.find_library("cublas")
    if path is None:
        raise CublasUnavailable("cuBLAS is not loaded in this process")
    try:
        return ctypes.CDLL(path)
    except OSError as error:
        raise CublasUnavailable(f"cuBLAS at {path} could not be opened: {error}") from error


def _mapped_library(name: str) -> str | None:
    """The path of the shared library ``name``* mapped into this process, if any."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.split(maxsplit=5)[-1].strip()
                if path.rsplit("/", 1)[-1].startswith(name):
                    return path
    except OSError:
        return None
    return None
