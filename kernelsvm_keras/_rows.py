"""Repeated training rows, solved once: one weighted row per distinct (row, target).

The SVM's objective sums ``C s_i loss_i`` over the rows, and rows that are
equal with equal targets have equal losses at every point. So the rows of a
group of ``c`` repeats can be one row of weight ``s_1 + ... + s_c``: the
same objective, the same optimum, the same certificate, with fewer rows
(w8a: 49,749 rows, 34,780 distinct with their labels; a9a: 32,561 and
26,008). The dual variable of a merged row splits over its repeats in
proportion to their weights, which is the dual optimum of the full problem
(every repeat is a support vector exactly when the merged row is).

A row of zero or negative weight is ignored by the solvers (as ``SVC``
ignores it): it adds nothing to its group's weight and gets no dual
variable.

Rows are grouped by a hash of their bytes (and of their target), and every
row is then compared with its group's first row, exactly: equal values with
other bytes (``-0.0`` and ``0.0``, a sparse row with an explicit zero) are
left unmerged, which costs only the saving.
"""

import numpy as np
import scipy.sparse as sp

__all__ = ["RepeatedRows"]

#: Merge only where at least this share of the rows repeats: fewer would save
#: less than a copy of the rows costs, and data without repeats keeps its rows
#: (and its random draws) as they are.
MIN_SHARE = 0.01

#: Elements hashed at a time (bounds the temporaries).
_CHUNK_ELEMENTS = 2**20


def _column_keys(n, seed):
    """``n`` fixed 64-bit keys, one per column (not the user's randomness: a fixed seed)."""
    draws = np.random.default_rng(seed).integers(0, 2**63, size=n, dtype=np.uint64)
    return draws * np.uint64(2) + np.uint64(1)


def _mixed(words, keys):
    """SplitMix64's finaliser of ``words ^ keys``: every input bit reaches every output bit.

    (A float's low mantissa bits are mostly zero; multiplied alone, they
    would leave the low bits of every hash zero.)
    """
    z = words ^ keys
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def _words(values):
    """The bits of ``values`` as unsigned integers of their width (one per element)."""
    values = np.ascontiguousarray(values)
    if values.dtype.kind == "f":
        values = values.astype(np.float64) if values.dtype.itemsize < 4 else values
        unsigned = np.dtype(f"u{values.dtype.itemsize}")
        return values.view(unsigned).astype(np.uint64)
    return values.astype(np.int64).view(np.uint64)


def _dense_hashes(X):
    """A 64-bit hash of each row's bytes, computed a block of rows at a time."""
    n, d = X.shape
    mix = _column_keys(d, seed=0)
    hashes = np.empty(n, dtype=np.uint64)
    step = max(1, _CHUNK_ELEMENTS // max(1, d))
    with np.errstate(over="ignore"):
        for start in range(0, n, step):
            block = _words(X[start : start + step])
            hashes[start : start + step] = np.sum(_mixed(block, mix), axis=1, dtype=np.uint64)
    return hashes


def _sparse_hashes(X):
    """A 64-bit hash of each CSR row's stored (column, value) pairs."""
    columns = _column_keys(X.shape[1], seed=1)
    with np.errstate(over="ignore"):
        entries = _mixed(_words(X.data), columns[X.indices])
        sums = np.concatenate([np.zeros(1, np.uint64), np.cumsum(entries, dtype=np.uint64)])
        return sums[X.indptr[1:]] - sums[X.indptr[:-1]]


def _may_repeat(X):
    """Whether :data:`MIN_SHARE` of the rows may repeat, by one product with a random vector.

    Equal rows have equal products (distinct rows almost never do), so
    products that are nearly all distinct rule repeats out: MNIST's 60,000
    rows in 0.02 s, where hashing them takes 0.3 s. (Were a BLAS to round
    two equal rows' products differently, the cost would be a missed
    merge.)
    """
    direction = np.random.default_rng(2).standard_normal(X.shape[1]).astype(X.dtype)
    products = X @ direction
    return X.shape[0] - np.unique(products).size >= MIN_SHARE * X.shape[0]


def _same_rows(X, rows, others):
    """Whether ``X[rows]`` equals ``X[others]``, row by row, exactly."""
    if sp.issparse(X):
        different = sp.csr_matrix(X[rows] != X[others])  # (csr_array has no getnnz)
        different.eliminate_zeros()
        return np.diff(different.indptr) == 0
    step = max(1, _CHUNK_ELEMENTS // max(1, X.shape[1]))
    same = np.empty(rows.size, dtype=bool)
    for start in range(0, rows.size, step):
        part = slice(start, start + step)
        same[part] = np.all(X[rows[part]] == X[others[part]], axis=1)
    return same


class RepeatedRows:
    """The groups of equal training rows with equal targets.

    Parameters
    ----------
    first : ndarray of shape (n_groups,)
        The first row of each group, ascending: the merged rows are
        ``X[first]`` (:meth:`take`) in the rows' own order.
    group : ndarray of shape (n_samples,)
        Each row's group.
    """

    def __init__(self, first, group):
        self.first = first
        self.group = group

    @property
    def n_groups(self):
        return self.first.size

    @property
    def n_samples(self):
        return self.group.size

    @classmethod
    def find(cls, X, labels):
        """The repeats of ``X``'s rows with equal ``labels``, or ``None`` if they are too few.

        ``X`` is a dense array or a CSR matrix (a memory map is left as it
        is: its rows are not copied); ``labels`` has one entry per row (a
        class index, or a regression target), or is ``None`` (no merging).
        Returns ``None`` where fewer than :data:`MIN_SHARE` of the rows
        repeat another.
        """
        if labels is None or isinstance(X, np.memmap) or X.shape[0] < 2:
            return None
        if not _may_repeat(X):
            return None
        if sp.issparse(X) and not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        hashes = _sparse_hashes(X) if sp.issparse(X) else _dense_hashes(X)
        labels = np.asarray(labels)
        with np.errstate(over="ignore"):
            hashes = _mixed(hashes, _mixed(_words(labels.reshape(-1)), np.uint64(2)))
        _, first, group = np.unique(hashes, return_index=True, return_inverse=True)
        if X.shape[0] - first.size < MIN_SHARE * X.shape[0]:
            return None
        # every row against its group's first row: a hash collision splits off
        repeated = np.flatnonzero(first[group] != np.arange(X.shape[0]))
        others = first[group[repeated]]
        same = _same_rows(X, repeated, others) & (labels[repeated] == labels[others])
        leader = np.arange(X.shape[0])
        leader[repeated] = np.where(same, others, repeated)
        first, group = np.unique(leader, return_inverse=True)
        if X.shape[0] - first.size < MIN_SHARE * X.shape[0]:
            return None
        return cls(first, group)

    def take(self, values):
        """Per-row ``values`` (the rows themselves, their targets) for the merged rows.

        Each group's first row's: the rows of a group are equal, and so are
        their targets.
        """
        return values[self.first]

    def weights(self, weights):
        """Each group's weight: the sum of its rows' positive weights (per column if 2-D)."""
        positive = np.maximum(weights, 0.0)
        summed = np.zeros((self.n_groups,) + positive.shape[1:], dtype=np.float64)
        np.add.at(summed, self.group, positive)
        return summed

    def spread(self, dual, weights):
        """A merged fit's dual variables over the rows, in proportion to their weights.

        ``dual`` has one row per group, ``weights`` one per row (the fit's,
        1-D or with a column per problem); returns ``(n_samples, K)``.
        """
        positive = np.maximum(weights, 0.0)
        if positive.ndim == 1:
            positive = positive[:, None]
        totals = self.weights(positive)[self.group]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(totals > 0, positive / totals, 0.0)
        return dual[self.group] * share

    def original(self, indices):
        """Row indices of the merged rows as indices of the rows given (their group's first)."""
        return self.first[np.asarray(indices)]
