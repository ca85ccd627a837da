"""The design matrix ``phi(X)`` on the Keras device: row blocks, and the landmarks' factor.

:class:`RowBlocks` is the one object through which the solvers read the
features of the training rows: the products of a pass (``phi(X) @ V`` and
``phi(X).T @ U``, fused in one pass over the blocks), the rows a working set
or a curved zone gathers, their Gram matrices (kept between Newton steps),
and the float64 features the certificate multiplies on the host. The blocks
are computed once and cached on the device, or recomputed at every pass
where they would take more than ``cache_size`` (streamed); Nystroem features
may be kept apart from their normalisation (``factor``), which
:class:`FactorBlocks` multiplies over the rows each of its columns uses.

A linear SVM's rows are scaled by a power of two (:func:`input_scale`,
exact) before they are cast to float32. Gathers on JAX are padded to a few
sizes (:func:`_padded_size`), so that a backend that compiles per shape
compiles a fit's programs once.
"""

import contextlib
import math

import numpy as np

from ._blas import matmul
from ._compiled import compiled
from ._keras import float64_scope, keras, ops, to_tensor
from ._kernels import RotatedFactor

__all__ = ["FactorBlocks", "RowBlocks", "input_scale"]

# Elements per float64 block of the certificate on the host (4 MiB).
_EXACT_BLOCK_ELEMENTS = 2**19
# Dense float64 systems on gathered rows, factored on the host: the solver's
# exact (Woodbury) steps and the certificate's dual on a column's free support
# vectors take at most EXACT_MAX_ROWS rows per column, and the systems of all
# columns (or the preconditioner's sums) at most EXACT_MAX_BYTES.
EXACT_MAX_ROWS = 2048
EXACT_MAX_BYTES = 2**28
# The Gram matrices of curved zones kept between Newton steps (RowBlocks.gram):
# at most _GRAM_CACHE_BYTES in all, and at most _GRAM_MAX_ROWS rows per
# column (twice the rows of an exact step).
_GRAM_CACHE_BYTES = 2**30
_GRAM_MAX_ROWS = 2 * EXACT_MAX_ROWS
# Rows gathered on the device (curved zones, working sets) change in number
# from one Newton step to the next. A backend that compiles a program per
# shape (JAX compiles every eager operation, and on a GPU autotunes it) would
# compile anew at every step: on JAX, gathers are padded to a power of two of
# at least _JAX_SMALLEST_GATHER rows (see _padded_size), so that a fit meets
# a few sizes. JAX, 10,000 MNIST rows: 1,318 compilations in the first fit
# unpadded, 552 on a grid of four sizes per octave; 20,000 rows on 1,024
# landmarks, four per octave: 250 compilations (9.2 s of XLA in a first fit
# of 17.9 s), powers of two from 64: 126 (4.7 s in 10.4 s), the second fit no
# slower (benchmarks/RESULTS.md, "Fewer shapes on JAX"). The other backends run
# operations eagerly whatever their shape, and gather the rows exactly.
_JAX_SMALLEST_GATHER = 64


def _dtype(x):
    """The dtype of a tensor, as Keras names it (``"float32"``)."""
    return keras.backend.standardize_dtype(x.dtype)


def _data_layout():
    """The row layout of the global Keras distribution, and its number of shards.

    ``(None, 1)`` without a distribution (or with one that does not shard data).
    """
    distribution = keras.distribution.distribution()
    if distribution is None:
        return None, 1
    layout = distribution.get_data_layout((1, 1))
    mesh = layout.device_mesh
    if layout.axes[0] is None:
        return None, 1
    return layout, int(mesh.shape[list(mesh.axis_names).index(layout.axes[0])])


def _padded_size(k):
    """The number of rows a gather of ``k`` rows takes (see ``_JAX_SMALLEST_GATHER``).

    On JAX, ``k`` rounded up to a power of two of at least
    ``_JAX_SMALLEST_GATHER``: 3 -> 64, 1000 -> 1024, 1025 -> 2048; on the
    other backends, and for no rows, ``k`` itself.
    """
    if k == 0 or keras.backend.backend() != "jax":
        return k
    return max(_JAX_SMALLEST_GATHER, 1 << (k - 1).bit_length())


def _padded_indices(indices):
    """``indices`` followed by repeats of its last entry, to ``_padded_size`` entries."""
    size = _padded_size(indices.size)
    if size == indices.size:
        return indices
    return np.concatenate([indices, np.full(size - indices.size, indices[-1])])


def _projected(transform, factor):
    """``rows -> transform(rows) @ factor`` (``factor`` a :class:`FactorBlocks`)."""
    return lambda rows: factor.right(transform(rows))


#: Column blocks of a factor whose columns use only leading rows (:class:`FactorBlocks`).
_FACTOR_BLOCKS = 8
#: The widest factor multiplied whole: below it, the blocks' products are too small to gain.
_FACTOR_SMALLEST = 512
#: Blocks only where they save at least this share of the dense product's multiply-adds.
_FACTOR_SAVING = 0.25


class FactorBlocks:
    """A map's factor ``N`` on the device, multiplied over the rows each column uses.

    In the Cholesky basis the landmarks' normalisation is ``N = L^-T``, upper
    triangular: column ``j`` uses only the first ``j + 1`` rows (over the
    landmarks a pivoted factorisation keeps, a staircase of them). ``B @ N``
    is then taken by :data:`_FACTOR_BLOCKS` blocks of columns, each over the
    rows its columns use, ``B[:, :r_J] @ N[:r_J, J]``: ``(1 + 1/8) / 2`` of the
    dense product's multiply-adds for a triangle. 2,000 rows of a kernel
    block on 4,096 landmarks took 209 ms against 303 ms (TensorFlow, one of
    this project's 2-core AMD EPYC machines, Zen 4; the column slices of
    ``B`` are copies), 8,192 rows on 2,048 landmarks 222 ms against 304 ms.

    The basis ``"leading"`` rotates that triangle, ``N = L^-T Q``
    (a :class:`~kernelsvm_keras._kernels.RotatedFactor`): its rows are the
    triangle's blocks, then ``Q = I - W T W^T``, two products of the
    reflectors' width (256) more: 4,096 rows on 4,096 landmarks took 0.50 s
    against the dense ``N``'s 0.63 s (the same machine, best of five). The
    eigenbasis is multiplied whole, and so is every factor on JAX (see
    ``__init__``).

    Parameters
    ----------
    factor : ndarray of shape (m, n_outputs), dtype float32
    rotation : RotatedFactor, default=None
        ``factor``'s parts, where it is the basis ``"leading"``.
    """

    def __init__(self, factor, rotation=None):
        self._dense = factor
        self._tensor = None
        self.blocks = None
        self._wy = None
        m, width = factor.shape
        # (not on JAX, which compiles a program for every shape of B: the blocks'
        # program, whether op by op or jitted whole, took 0.14-0.3 s per shape of
        # w8a's hinge (eight shapes), more than its products saved on a CPU:
        # 11.0 s op by op, 7.8-8.2 s jitted, 7.3-8.3 s dense)
        if keras.backend.backend() == "jax" or width < _FACTOR_SMALLEST:
            return
        triangle = factor if rotation is None else rotation.triangle
        nonzero = triangle != 0
        # one past each column's last nonzero row (0 for a zero column)
        used = np.where(nonzero.any(axis=0), m - np.argmax(nonzero[::-1], axis=0), 0)
        step = -(-width // _FACTOR_BLOCKS)
        spans = [(start, min(width, start + step)) for start in range(0, width, step)]
        rows = [int(used[start:stop].max(initial=0)) for start, stop in spans]
        work = sum(r * (stop - start) for r, (start, stop) in zip(rows, spans, strict=True))
        if rotation is not None:  # the reflectors' two products
            work += 2 * m * rotation.reflectors.shape[1]
        if work <= (1.0 - _FACTOR_SAVING) * m * width:
            self.blocks = [
                (r, stop - start, to_tensor(triangle[:r, start:stop]) if r else None)
                for r, (start, stop) in zip(rows, spans, strict=True)
            ]
            if rotation is not None:  # W, and T W^T formed once (not at every product)
                W = rotation.reflectors.astype(np.float64)
                coupled = (rotation.coupling.astype(np.float64) @ W.T).astype(np.float32)
                self._wy = (
                    to_tensor(rotation.reflectors),
                    to_tensor(coupled),
                )

    @property
    def tensor(self):
        """``N`` itself on the device (made at the first use)."""
        if self._tensor is None:
            self._tensor = to_tensor(self._dense)
        return self._tensor

    def right(self, B):
        """``B @ N`` for a tensor ``B`` of shape (rows, m)."""
        if self.blocks is None:
            return ops.matmul(B, self.tensor)
        parts = []
        for rows, width, part in self.blocks:
            if part is None:  # columns of zeros (landmarks a pivoted factorisation left out)
                parts.append(ops.zeros((ops.shape(B)[0], width), dtype=B.dtype))
            else:
                parts.append(ops.matmul(B[:, :rows], part))
        product = ops.concatenate(parts, axis=1)
        if self._wy is None:
            return product
        W, coupled = self._wy
        return product - ops.matmul(ops.matmul(product, W), coupled)


def _read_whole(X, scale):
    """Whether the certificate reads ``X`` as one block: its own float64 memory, Fortran-ordered.

    Its rows are then read without a copy (bounded blocks bound the copies'
    memory, and there are none), where row blocks of Fortran-ordered memory
    are not contiguous and each product would copy them.
    """
    return (
        isinstance(X, np.ndarray)
        and X.dtype == np.float64
        and scale == 1.0
        and X.flags.f_contiguous
        and not X.flags.c_contiguous
    )


class RowBlocks:
    """A design matrix ``phi(X)`` as row blocks of Keras tensors.

    Parameters
    ----------
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
        Input rows. Sparse matrices are densified one block at a time.
    transform : callable or None
        Maps a float32 tensor of input rows to their feature rows; ``None`` for
        the identity (linear SVM).
    n_outputs : int
        Number of columns of ``phi(X)``.
    batch_size : int
        Rows per block.
    cache_bytes : int
        The feature blocks are computed once and kept on the device when
        ``phi(X)`` takes at most this many bytes; otherwise every pass over the
        data recomputes them from ``X`` (bounded memory, more compute).
    scale : float, default=1.0
        A power of two multiplying the input rows (in float64, exactly) before
        they are cast to float32 and mapped: the solver then works on
        ``phi(scale * X)`` and converts the solution back (see
        :func:`input_scale`).
    factor : ndarray of shape (m, n_outputs), default=None
        A map that factors as ``phi(X) = transform(X) @ factor`` (Nystroem
        landmarks: the kernel block ``k(X, Z)`` and the normalisation ``N``).
        When the features are streamed (:attr:`streamed`), the design keeps the
        two apart: every pass computes the ``(rows x m)`` kernel block alone and
        products go through ``factor`` on the small side (``phi @ V = k(X, Z)
        @ (N @ V)``), so no pass pays the ``rows x m x n_outputs`` projection.
        Cached features are projected once and kept so: the diagonal
        preconditioner needs their squares, and the exact steps' Gram matrices
        their rows (kept factored, MNIST's 20,000 rows on 2,048 landmarks
        fitted in 11.7 s against 8.5 s, the rows of those steps projected
        again at every step).
    read_few_rows : bool, default=False
        Keep a ``factor``'s cached design apart too, for a caller that reads
        few of its rows (the hinge's working sets): the kernel block is
        cached, products go through ``factor`` on the small side, and only
        the rows :meth:`working_rows` reads are projected, once each (w8a's
        hinge read 8,445 distinct rows of 37,311, MNIST's 24,055 of 60,000:
        its fit 33.3 / 31.9 s -> 29.1 / 27.8 s, holding the 394 MB of rows
        read besides the kernel block; benchmarks/RESULTS.md).
        :meth:`project_cache` projects the whole cache, for the Newton
        solver's passes over every row.

    Notes
    -----
    Under a global Keras distribution that shards data (for instance
    ``keras.distribution.set_distribution(keras.distribution.DataParallel())``
    on JAX), every block's rows are sharded over the devices of its mesh
    (``batch_size`` is rounded down to a multiple of their number; a shorter
    last block stays unsharded): the feature map and every product over the
    rows then run data-parallel, and the backend sums the partial results.
    """

    def __init__(
        self,
        X,
        transform,
        n_outputs,
        batch_size,
        cache_bytes,
        scale=1.0,
        factor=None,
        read_few_rows=False,
    ):
        self._X = X
        self.scale = float(scale)
        self.n_samples = X.shape[0]
        self.n_outputs = n_outputs
        self.cache_bytes = cache_bytes
        self._batch_size = batch_size
        self._transform = transform
        self._grams = {}
        # (the basis "leading": the array and its factors, FactorBlocks' rotation)
        self._rotation = factor if isinstance(factor, RotatedFactor) else None
        if self._rotation is not None:
            factor = factor.dense
        self._factor_array = None if factor is None else np.asarray(factor, dtype=np.float32)
        # the float32 factor in float64 (exact): what the certificate multiplies by
        self._factor_host = None
        if factor is not None and (read_few_rows or not self.fits_in_cache(self.n_samples)):
            self._factor_host = self._factor_array.astype(np.float64)
        self._read = None  # the rows working_rows projected (see there)
        self._device = None  # see _on_device

    def _on_device(self):
        """The blocks' side on the Keras device, made at the first use (a dict).

        ``bounds`` of the row blocks (sharded where a distribution asks),
        ``cache`` (the feature blocks, or ``None`` when :attr:`streamed`),
        ``factor`` (a :class:`FactorBlocks` when :attr:`factored`),
        ``transform`` (rows to stored blocks), ``layout`` and ``shards``. A
        design whose rows go only to the exact dual in NumPy
        (:mod:`kernelsvm_keras._dual`, through :meth:`exact_products`,
        :meth:`exact_rows` and :meth:`exact_blocks` of the identity map)
        never makes it, and never imports Keras.
        """
        if self._device is None:
            layout, shards = _data_layout()
            batch = max(shards, self._batch_size - self._batch_size % shards)
            transform, factor = self._transform, None
            if self._factor_array is not None:
                factor = FactorBlocks(self._factor_array, self._rotation)
                if not self.factored:
                    transform, factor = _projected(transform, factor), None
            self._device = {
                "bounds": [
                    (start, min(start + batch, self.n_samples))
                    for start in range(0, self.n_samples, batch)
                ],
                "cache": None,
                "factor": factor,
                "transform": transform,
                "layout": layout,
                "shards": shards,
            }
            if not self.streamed:
                bounds = self._device["bounds"]
                self._device["cache"] = [self._compute(start, stop) for start, stop in bounds]
        return self._device

    def fits_in_cache(self, n_rows):
        """Whether ``n_rows`` rows of features may be kept on the device."""
        return n_rows * self.n_outputs * 4 <= self.cache_bytes

    @property
    def factored(self):
        """Whether the blocks are kept apart from the map's factor (see ``factor``)."""
        return self._factor_host is not None

    @property
    def _factor(self):
        """The factor (a :class:`FactorBlocks`) where :attr:`factored`, else ``None``."""
        return self._on_device()["factor"] if self.factored else None

    def _project(self, block):
        """Feature rows from stored rows (the identity unless :attr:`factored`)."""
        return block if not self.factored else self._factor.right(block)

    def _raw_blocks(self):
        """Yield ``(start, stop, block)`` as stored or computed, before the factor."""
        device = self._on_device()
        for i, (start, stop) in enumerate(device["bounds"]):
            cache = device["cache"]
            block = cache[i] if cache is not None else self._compute(start, stop)
            yield start, stop, block

    def _held(self, mask):
        """Yield ``(start, stop, block)`` for the blocks holding rows where ``mask`` is true.

        ``block`` is the stored block where it is cached, ``None`` where the
        features are streamed: :meth:`_take` then computes the rows taken alone.
        """
        device = self._on_device()
        cache = device["cache"]
        for i, (start, stop) in enumerate(device["bounds"]):
            if mask[start:stop].any():
                yield start, stop, None if cache is None else cache[i]

    def _take(self, block, start, local):
        """Stored rows ``start + local`` of a block from :meth:`_held`, as a tensor.

        Streamed, only those rows are computed. Taken from their whole blocks,
        a working set's few hundred rows cost a pass over the data at every
        set: MNIST's hinge on 5,120 landmarks, just above ``cache_size``,
        fitted in 373 s then (92 s now; 27 s with the features cached).
        """
        if block is not None:
            return ops.take(block, to_tensor(local), axis=0)
        return self._transformed(self._X[start + local])

    def _compute(self, start, stop):
        return self._transformed(self._X[start:stop])

    def _transformed(self, rows):
        """Stored rows (the transform's output) of rows of ``X``."""
        if hasattr(rows, "toarray"):
            rows = rows.toarray()
        if self.scale != 1.0:
            rows = _scaled_float32(rows, self.scale)
        with np.errstate(over="ignore"):  # (beyond float32: the starting point's check says so)
            rows = to_tensor(np.asarray(rows, dtype=np.float32))
        device = self._device
        if device["layout"] is not None and int(rows.shape[0]) % device["shards"] == 0:
            rows = keras.distribution.distribute_tensor(rows, device["layout"])
        transform = device["transform"]
        return rows if transform is None else transform(rows)

    def blocks(self):
        """Yield ``(start, stop, block)`` over the rows of ``phi(X)``."""
        for start, stop, block in self._raw_blocks():
            yield start, stop, self._project(block)

    def _exact_stored(self):
        """Yield ``(start, stop, rows)``: stored rows in float64, in bounded host blocks.

        For the identity map, the rows of ``scale * X`` themselves (not
        rounded to float32; ``X``'s own memory where it is float64 and the
        scale 1: read only); otherwise the float32 blocks, cast exactly.
        """
        if self._transform is None and self._X is not None:
            rows = max(1, _EXACT_BLOCK_ELEMENTS // max(1, self.n_outputs))
            if _read_whole(self._X, self.scale):
                # (a Fortran-ordered design, the factor of digits' landmarks: its row
                # blocks were copied by every product, 29 MB per certificate pass)
                rows = self.n_samples
            for first in range(0, self.n_samples, rows):
                last = min(first + rows, self.n_samples)
                part = self._X[first:last]
                if hasattr(part, "toarray"):
                    part = part.toarray()
                # (read only: X's own rows where they are float64 and unscaled; the
                # certificate of digits' landmark design copied 14 MB for nothing)
                part = np.asarray(part, dtype=np.float64)
                if self.scale != 1.0:
                    part = part * self.scale
                yield first, last, part
            return
        for start, stop, B in self._raw_blocks():
            rows = max(1, _EXACT_BLOCK_ELEMENTS // max(1, int(B.shape[1])))
            for first in range(start, stop, rows):
                last = min(first + rows, stop)
                part = ops.convert_to_numpy(B[first - start : last - start])
                yield first, last, np.asarray(part, dtype=np.float64)

    def _exact(self, stored):
        """Float64 feature rows of float64 stored rows (the factor applied in float64)."""
        return stored if not self.factored else matmul(stored, self._factor_host)

    def exact_blocks(self):
        """Yield ``(start, stop, block)`` with ``block`` a float64 NumPy array.

        For the identity map, the rows of ``scale * X`` themselves (not
        rounded to float32); otherwise the float32 features, cast exactly (a
        factored design: its float32 kernel block and factor, multiplied in
        float64).
        """
        for first, last, part in self._exact_stored():
            yield first, last, self._exact(part)

    def exact_products(self, V=None, U=None):
        """``phi(X) @ V`` and ``phi(X).T @ U`` in float64, in one pass (``None`` where not asked).

        The features are those of :meth:`exact_blocks`; a factored design
        multiplies by its factor on the small side and never forms them.
        """
        factor = self._factor_host
        if V is not None and factor is not None:
            V = matmul(factor, V)
        Z = None if V is None else np.empty((self.n_samples, V.shape[1]))
        u = None if U is None else np.zeros((self._stored_width(), U.shape[1]))
        for first, last, part in self._exact_stored():
            if Z is not None:
                Z[first:last] = matmul(part, V)
            if U is not None:
                u += matmul(part.T, U[first:last])
        if u is not None and factor is not None:
            u = matmul(factor.T, u)
        return Z, u

    def float32_products(self, V):
        """``phi(X) @ V`` to float32's precision, as a float64 NumPy array.

        Where the features are cached on the device, :meth:`matmul` there in
        float32 (w8a's 49,749 rows on 2,048 landmarks: 0.02 s against
        :meth:`exact_products`'s 0.10 s); elsewhere (the identity map, whose
        dual in NumPy never imports Keras, and streamed features)
        :meth:`exact_products`'s values. For choices that round-off does not
        change, such as which rows lie outside a margin.
        """
        if self._transform is None or self.streamed:
            return self.exact_products(V)[0]
        Z = self.matmul(to_tensor(np.asarray(V, dtype=np.float32)))
        return np.asarray(ops.convert_to_numpy(Z), dtype=np.float64)

    def working_rows(self, rows):
        """``phi(X)[rows]`` as NumPy, in the precision the design holds them (rows in any order).

        The rows of choices and approximations that the float64 certificate
        then judges (the working sets' Gram matrices): float32 where a map
        computes the features on the device (a factored design, cached or
        streamed, projects its kernel rows there); float64 for the identity
        map, whose features are not float32 values (:meth:`exact_rows`:
        ``scale * X``). A factored design projects each row the first time it
        is read (:meth:`read_ahead`) and keeps it on the host, so that the
        rows read again cost no projection (nor, streamed, their kernel rows).
        """
        rows = np.asarray(rows, dtype=np.intp)
        if self._reads_ahead():
            self.read_ahead(rows)
            slots, store, _ = self._read
            return store[slots[rows]]
        if self._transform is None:
            return self.exact_rows(rows)
        return self._stored_rows(rows, dtype=np.float32)

    def read_ahead(self, rows):
        """Project the ``rows`` a factored design has not projected yet, in one product.

        So that a caller about to read several sets of rows with
        :meth:`working_rows` pays one product for all of them: the
        projection's factor is read once per product (MNIST's 24,054 rows on
        4,096 landmarks, one product per block of rows: 9.7 s in 1,047
        products). Nothing to do but for a factored design. Where its kernel
        block is cached (``read_few_rows``) the projected rows take at most
        what the cache does; streamed, the store holds at most
        ``cache_bytes`` of them (when more are asked for, it starts again
        from the rows of this call). Both are projected in float32 on the
        device: in float64 on the host, MNIST's hinge on 6,144 streamed
        landmarks spent 24 s of its 117 s projecting the rows its sets read
        (benchmarks/RESULTS.md, "Full working sets that still shrink").
        """
        if not self._reads_ahead():
            return
        rows = np.asarray(rows, dtype=np.intp)
        if self._read is None:
            # slots filled in order, in an array with room for every row: only the
            # pages of the slots written are touched (rows written in their own
            # place touched every 2 MB huge page NumPy asks for, the whole array:
            # MNIST's hinge 1.1 GB more at its peak; a store grown by doubling
            # copied its rows, read_ahead's own time there 2.3 s)
            slots = np.full(self.n_samples, -1, dtype=np.intp)
            self._read = [slots, self._read_store(0), 0]
        slots, store, used = self._read
        new = np.unique(rows[slots[rows] < 0])
        if not new.size:
            return
        if used + new.size > len(store):  # (streamed only: the store is full)
            new, used = np.unique(rows), 0
            slots[:] = -1
            if new.size > len(store):
                store = self._read[1] = self._read_store(new.size)
        self._project_into(new, store[used : used + new.size])
        slots[new] = used + np.arange(new.size)
        self._read[2] = used + new.size

    def _read_store(self, at_least):
        """An empty store for :meth:`read_ahead`: every row, or streamed ``cache_bytes`` of them."""
        if not self.streamed:
            return np.empty((self.n_samples, self.n_outputs), np.float32)
        rows = max(at_least, min(self.n_samples, self.cache_bytes // (4 * self.n_outputs)))
        return np.empty((int(rows), self.n_outputs), np.float32)

    def _project_into(self, rows, out):
        """``out[:] = phi(X)[rows]``: a factored design's sorted ``rows``, in float32."""
        ((parts, positions),) = self.padded_parts([rows], project=False)
        joined = ops.concatenate(parts, axis=0)
        count, step = int(joined.shape[0]), max(1, self._batch_size)
        if count <= step:
            taken = ops.convert_to_numpy(self._project(joined))
        else:
            # projected a block of rows at a time, so that the product's
            # temporaries (FactorBlocks' column blocks) are a block's, not all the
            # rows' (MNIST's hinge: 240 MB more at its peak in one product)
            taken = np.empty((count, self.n_outputs), dtype=np.float32)
            for start in range(0, count, step):
                block = self._project(joined[start : start + step])
                taken[start : start + step] = ops.convert_to_numpy(block)
        # gathered straight into the store (mode="clip": NumPy buffers out= under
        # "raise"; the positions are the gathered rows' own)
        np.take(taken, positions, axis=0, out=out, mode="clip")

    def _reads_ahead(self):
        """Whether :meth:`working_rows` projects the rows it reads (see there)."""
        return self.factored

    def project_cache(self):
        """Project a cached factored design's kernel block once (see ``read_few_rows``).

        For the Newton solver, whose passes read every row many times. A
        design that is not factored, or whose features are streamed, is left
        as it is.
        """
        if not self.factored or self.streamed:
            return
        device = self._on_device()
        factor, cache = device["factor"], device["cache"]
        for i, B in enumerate(cache):  # block by block: one block more held at a time
            cache[i] = factor.right(B)
        device["transform"], device["factor"] = _projected(device["transform"], factor), None
        self._factor_host, self._read, self._grams = None, None, {}

    def exact_rows(self, rows):
        """``phi(X)[rows]`` in float64, as :meth:`exact_blocks` gives them (sorted ``rows``).

        Only the rows taken are read (and, for a factored design, projected).
        """
        if self._transform is None and self._X is not None:  # scale * X itself
            part = self._X[rows]
            part = np.array(part.toarray() if hasattr(part, "toarray") else part, np.float64)
            part *= self.scale
            return part
        return self._exact(self._stored_rows(rows))

    def _stored_rows(self, rows, dtype=np.float64):
        """Stored rows ``rows`` as ``dtype`` (float64: cast exactly), in their order."""
        ((parts, positions),) = self.padded_parts([rows], project=False)
        if not parts:
            return np.zeros((0, self._stored_width()), dtype=dtype)
        taken = np.concatenate([ops.convert_to_numpy(part) for part in parts], axis=0)
        return np.asarray(taken[positions], dtype=dtype)

    def _stored_width(self):
        return self.n_outputs if not self.factored else int(self._factor_host.shape[0])

    @classmethod
    def from_blocks(cls, blocks, n_outputs):
        """A design whose (cached) row blocks are the given tensors."""
        design = cls.__new__(cls)
        design._X = design._transform = design._factor_array = design._factor_host = None
        design._rotation = None
        design.scale = 1.0
        design.n_outputs = n_outputs
        design.cache_bytes = math.inf
        sizes = [int(B.shape[0]) for B in blocks]
        ends = np.cumsum(sizes)
        design.n_samples = int(ends[-1]) if sizes else 0
        design._grams = {}
        design._device = {
            "bounds": [(int(e - n), int(e)) for e, n in zip(ends, sizes, strict=True)],
            "cache": list(blocks),
            "factor": None,
            "transform": None,
            "layout": None,
            "shards": 1,
        }
        return design

    def gathered(self, mask, project=True):
        """Yield ``(start, local, rows)`` block by block: the rows where ``mask`` is true.

        ``local`` are their indices within the block from ``start``, ``rows``
        their features, or with ``project=False`` the stored rows (a factored
        design projects only the rows taken).
        """
        for start, stop, B in self._held(mask):
            local = np.flatnonzero(mask[start:stop])
            taken = self._take(B, start, local)
            yield start, local, self._project(taken) if project else taken

    @property
    def streamed(self):
        """Whether every pass recomputes the features (they are not cached)."""
        return not self.fits_in_cache(self.n_samples)

    def padded_parts(self, row_sets, project=True):
        """Rows of ``phi(X)`` for each array of ``row_sets``, gathered in one pass.

        Returns, per array ``rows``, ``(parts, positions)``: tensors, one per
        block that holds some of the rows, whose concatenation ``T`` has
        ``T[positions[i]] = phi(X)[rows[i]]``. A block's rows are padded by
        repeats of its last to ``_padded_size`` of their number, so that the
        shapes a fit meets stay few (see ``_JAX_SMALLEST_GATHER``). With
        ``project=False`` the stored rows (a factored design projects only
        the rows taken).
        """
        ordered = [np.sort(np.asarray(rows, dtype=np.int64)) for rows in row_sets]
        mask = np.zeros(self.n_samples, dtype=bool)
        for rows in ordered:
            mask[rows] = True
        parts = [[] for _ in ordered]
        found = [np.empty(rows.size, dtype=np.int64) for rows in ordered]
        filled = [0] * len(ordered)
        for start, stop, B in self._held(mask):
            for j, rows in enumerate(ordered):
                first, last = np.searchsorted(rows, [start, stop])
                if last == first:
                    continue
                local = _padded_indices(rows[first:last] - start)
                taken = self._take(B, start, local)
                parts[j].append(self._project(taken) if project else taken)
                found[j][first:last] = filled[j] + np.arange(last - first)
                filled[j] += local.size
        out = []
        for rows, part, at in zip(row_sets, parts, found, strict=True):
            positions = np.empty(at.size, dtype=np.int64)
            positions[np.argsort(np.asarray(rows), kind="stable")] = at
            out.append((part, positions))
        return out

    def padded_rows(self, row_sets):
        """:meth:`padded_parts`, each set's parts as one tensor: ``(T, positions)`` per set."""
        out = []
        for parts, positions in self.padded_parts(row_sets):
            if not parts:
                out.append((ops.zeros((0, self.n_outputs), dtype="float32"), positions))
            else:
                out.append((parts[0] if len(parts) == 1 else ops.concatenate(parts), positions))
        return out

    def subset(self, rows):
        """The feature rows ``rows`` as a cached design, and where they are in it.

        Returns ``(design, positions)``: the blocks of :meth:`padded_parts`,
        row ``positions[i]`` of the design is ``phi(X)[rows[i]]``, and the
        others are padding, to be given zero weight.
        """
        ((parts, positions),) = self.padded_parts([rows])
        return RowBlocks.from_blocks(parts, self.n_outputs), positions

    def curved_subset(self, mask, count, weights):
        """The rows where ``mask`` holds, as a cached design, and their ``weights``.

        ``mask`` is a boolean tensor of the rows, ``count`` its number of true
        entries, ``weights`` a float32 tensor of shape (n_samples, K). Returns
        ``(design, taken)``: the design's rows hold every masked row once, and
        padding rows whose ``taken`` weights are zero. On cached features the
        rows are gathered on the device, block by block (a block's masked rows
        first, then padding to :func:`_padded_size` of their number, so that the
        shapes a fit meets stay few); only the number per block comes to the
        host. Streamed features are gathered by :meth:`subset`, on host indices.
        """
        K = weights.shape[1]
        if self.streamed:
            rows = np.flatnonzero(ops.convert_to_numpy(mask))
            design, positions = self.subset(rows)
            taken = np.zeros((design.n_samples, K), np.float32)
            taken[positions] = ops.convert_to_numpy(weights)[rows]
            return design, to_tensor(taken)
        if not count:
            return RowBlocks.from_blocks([], self.n_outputs), ops.zeros((0, K), dtype="float32")
        device = self._on_device()
        bounds = tuple(device["bounds"])
        counts = ops.convert_to_numpy(_block_counts(mask, bounds=bounds))
        parts, taken = [], []
        for (start, stop), block, number in zip(bounds, device["cache"], counts, strict=True):
            if number == 0:
                continue
            size = min(_padded_size(int(number)), stop - start)
            rows, rows_weights = _masked_first(
                block, mask, weights, start=start, stop=stop, size=size
            )
            parts.append(self._project(rows))
            taken.append(rows_weights)
        return RowBlocks.from_blocks(parts, self.n_outputs), ops.concatenate(taken, axis=0)

    def keeps_gram(self, key):
        """Whether :meth:`gram` keeps products of some rows under ``key``."""
        return key in self._grams

    def take_rows(self, mask):
        """The rows where ``mask`` is true, as one tensor."""
        parts = [rows for _, _, rows in self.gathered(mask)]
        if not parts:
            return ops.zeros((0, self.n_outputs), dtype="float32")
        return ops.concatenate(parts, axis=0)

    def gram(self, rows, key, exact=False):
        """``phi(X)[rows] @ phi(X)[rows].T`` as a new NumPy array, for sorted row indices.

        The products of the rows met before under the same ``key`` are kept
        (within ``_GRAM_CACHE_BYTES`` for all keys) and only those of new rows
        are computed: in float32 on the device, or with ``exact`` in float64
        on the host from the float32 features (the products of float32
        numbers are then exact to float64 rounding, and the matrix
        semi-definite to that precision).
        """
        if exact:
            key = ("float64", key)

        def row_sets(sets):  # one pass: float64 NumPy rows when exact, else (T, positions)
            if exact:  # the float32 rows, cast (and a factor applied) in float64
                taken = self._exact(self._stored_rows(np.concatenate(sets)))
                return np.split(taken, np.cumsum([len(rows) for rows in sets])[:-1])
            return self.padded_rows(sets)

        def product(A, B):  # A @ B.T, as NumPy
            if exact:
                return matmul(A, B.T)
            (TA, a), (TB, b) = A, B
            return ops.convert_to_numpy(ops.tensordot(TA, TB, axes=[[1], [1]]))[np.ix_(a, b)]

        known, where, G = self._grams.pop(key, (None, None, None))
        if known is not None:
            new = rows[where[rows] < 0]
            if known.size + new.size > _GRAM_MAX_ROWS:
                known = None  # start again from these rows
            elif new.size:
                fresh, old = row_sets([new, known])
                cross = product(fresh, old)
                inner = product(fresh, fresh)
                G = np.block([[G, cross.T], [cross, inner]])
                where[new] = np.arange(known.size, known.size + new.size)
                known = np.concatenate([known, new])
        if known is None:
            known = rows
            (A,) = row_sets([rows])
            G = product(A, A)
            where = np.full(self.n_samples, -1, dtype=np.int32)
            where[rows] = np.arange(rows.size)
        used = sum(entry[1].nbytes + entry[2].nbytes for entry in self._grams.values())
        if used + where.nbytes + G.nbytes <= _GRAM_CACHE_BYTES:
            self._grams[key] = (known, where, G)
        positions = where[rows]
        return G[np.ix_(positions, positions)]  # (a new array)

    def new_gram_rows(self, rows, key, exact=False):
        """How many of ``rows`` :meth:`gram` would compute products for."""
        if exact:
            key = ("float64", key)
        if key not in self._grams:
            return rows.size
        return int(np.count_nonzero(self._grams[key][1][rows] < 0))

    def numpy(self):
        """``phi(X)`` as one float64 NumPy array (computed in float32)."""
        out = np.empty((self.n_samples, self.n_outputs))
        for start, stop, B in self.blocks():
            out[start:stop] = ops.convert_to_numpy(B)
        return out

    def _wide(self):
        """The float64 factor on the device where streamed products take it, else ``None``.

        A streamed factored design multiplies the kernel block by ``N V``,
        whose entries cancel (the landmarks' kernel is nearly singular): in
        float32 those products were not linear to float32's precision
        (``Z(3 w) / 3 - Z(w)`` up to 1.9e-4 on margins of 1, against 4e-6
        for cached features), and a large fit's Newton steps stalled on that
        noise (``benchmarks/RESULTS.md``, "Streamed landmarks: products in
        float64"). Its passes multiply the float32 blocks in float64 where
        the backend can (:func:`~kernelsvm_keras._keras.float64_scope`:
        TensorFlow; JAX, inside its ``enable_x64`` context where
        ``jax_enable_x64`` is off; not torch under Keras 3.15), rounding each
        result to float32 once.
        """
        if not (self.factored and self.streamed):
            return None
        device = self._on_device()
        if "factor64" not in device:
            device["factor64"] = None
            scope = float64_scope()
            if scope is not None:
                with scope:
                    device["factor64"] = to_tensor(self._factor_host, dtype="float64")
        return device["factor64"]

    def _in_float64(self):
        """The context of the float64 products (see :meth:`_wide`); a null one without them.

        Only the products and casts of float64 tensors run inside it: on JAX
        it is the ``enable_x64`` context, in which NumPy float64 scalars
        would widen float32 arithmetic such as the kernel block's.
        """
        return float64_scope() if self._wide() is not None else contextlib.nullcontext()

    def _factor_left(self, V):
        """``V`` as stored blocks take it: ``factor @ V`` for a factored design."""
        wide = self._wide()
        if wide is not None:
            with self._in_float64():
                return ops.matmul(wide, ops.cast(V, "float64"))
        return V if not self.factored else ops.matmul(self._factor.tensor, V)

    def _factor_right(self, total):
        """``factor.T @ total``: a sum over stored rows as one over feature rows."""
        if not self.factored:
            return total
        wide = self._wide()
        if wide is not None:
            with self._in_float64():
                return ops.cast(ops.matmul(ops.transpose(wide), total), "float32")
        return ops.matmul(ops.transpose(self._factor.tensor), total)

    @staticmethod
    def _stored_product(B, V):
        """``B @ V`` in ``V``'s precision, as float32 (``V`` from :meth:`_factor_left`).

        In float64, inside :meth:`_in_float64`.
        """
        dtype = _dtype(V)
        if _dtype(B) != dtype:
            B = ops.cast(B, dtype)
        product = ops.matmul(B, V)
        return product if dtype == "float32" else ops.cast(product, "float32")

    @staticmethod
    def _stored_sum(B, U, dtype):
        """``B.T @ U`` in ``dtype`` (that of :meth:`_factor_left`'s result).

        In float64, inside :meth:`_in_float64`.
        """
        if _dtype(B) != dtype:
            B = ops.cast(B, dtype)
        if _dtype(U) != dtype:
            U = ops.cast(U, dtype)
        # (U^T B)^T: transposing B would copy the whole block on some backends
        return ops.transpose(ops.matmul(ops.transpose(U), B))

    def matmul(self, V):
        """``phi(X) @ V`` for ``V`` of shape (n_outputs, K)."""
        V = self._factor_left(V)
        parts = []
        for _, _, B in self._raw_blocks():
            with self._in_float64():
                parts.append(self._stored_product(B, V))
        if not parts:
            return ops.zeros((0, V.shape[1]), dtype="float32")
        return ops.concatenate(parts, axis=0)

    def matmul_rmatmul(self, V, offset, weigh):
        """``Z = phi(X) @ V + offset`` and ``phi(X).T @ weigh(start, stop, Z[start:stop])``.

        One pass over the blocks for both products (when the features are not
        cached, every pass recomputes them: this halves the cost of a Hessian
        product and of a gradient).
        """
        Z_parts = []
        total = None
        V = self._factor_left(V)
        dtype = _dtype(V)
        for start, stop, B in self._raw_blocks():
            with self._in_float64():
                if _dtype(B) != dtype:  # (cast once for both products)
                    B = ops.cast(B, dtype)
                Zb = self._stored_product(B, V)
            Zb = Zb + offset
            Z_parts.append(Zb)
            U = weigh(start, stop, Zb)
            with self._in_float64():
                part = self._stored_sum(B, U, dtype)
                total = part if total is None else total + part
        if total is None:  # no rows: phi(X).T @ anything is zero
            Zb = ops.zeros((0, V.shape[1]), dtype="float32")
            width = weigh(0, 0, Zb).shape[1]
            return Zb, ops.zeros((self.n_outputs, width), dtype="float32")
        return ops.concatenate(Z_parts, axis=0), self._factor_right(total)

    def rmatmul(self, U, squared=False):
        """``phi(X).T @ U`` (or ``(phi(X) ** 2).T @ U``) for ``U`` of shape (n, K)."""
        if squared:  # elementwise squares of the features: a factored design projects
            blocks, finish = self.blocks(), (lambda total: total)
        else:
            blocks, finish = self._raw_blocks(), self._factor_right
        wide = not squared and self._wide() is not None
        dtype = "float64" if wide else "float32"
        total = None
        for start, stop, B in blocks:
            if squared:
                B = ops.square(B)
            with self._in_float64() if wide else contextlib.nullcontext():
                part = self._stored_sum(B, U[start:stop], dtype)
                total = part if total is None else total + part
        if total is None:  # no rows (an empty curved zone): the sum is zero
            return ops.zeros((self.n_outputs, U.shape[1]), dtype="float32")
        return finish(total)


@compiled(static=("bounds",))
def _block_counts(mask, *, bounds):
    """The number of true entries of ``mask`` in each block of rows ``(start, stop)``."""
    total = ops.cumsum(ops.cast(mask, "int32"))
    ends = ops.stack([total[stop - 1] for _, stop in bounds])
    return ends - ops.concatenate([ops.zeros((1,), dtype="int32"), ends[:-1]])


@compiled(static=("start", "stop", "size"))
def _masked_first(block, mask, weights, *, start, stop, size):
    """``size`` rows of ``block`` (rows ``start:stop``): those ``mask`` holds, then others.

    Each group in the order of the rows. Returns the rows and their
    ``weights``, zero for the rows ``mask`` does not hold (the padding).
    """
    inside = mask[start:stop]
    index = ops.arange(stop - start, dtype="int32")
    order = ops.argsort(ops.where(inside, index, index + (stop - start)))[:size]
    kept = ops.cast(ops.take(inside, order, axis=0), "float32")[:, None]
    return ops.take(block, order, axis=0), ops.take(weights[start:stop], order, axis=0) * kept


def _scaled_float32(rows, scale):
    """``scale * rows`` as float32, exactly (a power of two), a slice at a time."""
    out = np.empty(rows.shape, dtype=np.float32)
    step = max(1, 2**18 // max(1, rows.shape[1]))
    for first in range(0, rows.shape[0], step):
        # in the rows' own precision: float64 rows beyond float32's range come into it
        out[first : first + step] = rows[first : first + step] * scale
    return out


def input_scale(X):
    """The power of two that brings the largest ``|X|`` into ``[0.5, 1)``.

    Multiplying by a power of two is exact in floating point: the linear SVM
    trains on ``scale * X`` (no float32 overflow in ``X @ w`` or in squared
    norms, whatever the units of ``X``) and :func:`solve_svm` converts the
    solution back. 1 for an empty, all-zero or non-finite ``X``.
    """
    if hasattr(X, "tocsr"):
        largest = float(np.max(np.abs(X.data))) if X.data.size else 0.0
    else:  # by blocks of rows: X may be a memory map
        rows = max(1, 2**18 // max(1, X.shape[1]))
        largest = max(
            (float(np.max(np.abs(X[i : i + rows]))) for i in range(0, X.shape[0], rows)),
            default=0.0,
        )
    if not np.isfinite(largest) or largest == 0.0:
        return 1.0
    return float(np.ldexp(1.0, -(math.frexp(largest)[1])))
