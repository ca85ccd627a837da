"""Readers for datasets in their standard formats, from a local path.

Nothing is downloaded: ``keras.datasets.mnist.load_data()`` needs the internet,
:func:`load_mnist` reads the four files MNIST (or Fashion-MNIST) ships as.
LIBSVM / svmlight text is read whole by
:func:`sklearn.datasets.load_svmlight_file`, or a chunk of rows at a time by
:func:`iter_svmlight_chunks` (for ``partial_fit`` on files larger than memory).
"""

import bz2
import gzip
import io
import itertools
import math
import struct
import zlib
from pathlib import Path

import numpy as np
from sklearn.datasets import load_svmlight_file

__all__ = ["iter_svmlight_chunks", "load_idx", "load_mnist"]

# Bytes read at a time from an IDX body (bounded by what its header promises).
_READ_BYTES = 2**24

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def load_idx(path):
    """Read an unsigned-byte IDX file, optionally gzip-compressed (``.gz``).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ndarray of dtype uint8
        Of the shape in the file's header (``(n, 28, 28)`` for MNIST images,
        ``(n,)`` for labels).

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a file.
    ValueError
        When the file is not an unsigned-byte IDX file or is truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            # the header first: the body is read only as far as it promises
            magic = f.read(4)
            if len(magic) < 4 or magic[:3] != b"\x00\x00\x08":
                raise ValueError(f"{path} is not an unsigned-byte IDX file (bad magic number).")
            ndim = magic[3]
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise ValueError(f"{path} is truncated: its header needs {4 + 4 * ndim} bytes.")
            shape = struct.unpack(f">{ndim}I", dims)
            count = math.prod(shape)
            body = bytearray()
            while len(body) < count:
                part = f.read(min(count - len(body), _READ_BYTES))
                if not part:
                    break
                body += part
            if len(body) < count:
                raise ValueError(f"{path} holds {len(body)} values; its header says {shape}.")
            if f.read(1):
                raise ValueError(
                    f"{path} holds more than the {count} values of its header {shape}."
                )
    except (EOFError, OSError, zlib.error) as exc:  # truncated or corrupt compression
        raise ValueError(f"{path} cannot be read as an IDX file: {exc}") from exc
    return np.frombuffer(bytes(body), dtype=np.uint8).reshape(shape)


def load_mnist(folder):
    """MNIST (or Fashion-MNIST) from the folder holding its four IDX files.

    The files may be gzip-compressed (``train-images-idx3-ubyte.gz``, ...) or
    not. The return value is that of ``keras.datasets.mnist.load_data()``.

    Parameters
    ----------
    folder : str or path-like

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : ndarrays of dtype uint8
        Images of shape ``(n, 28, 28)``, labels of shape ``(n,)``.
    """
    folder = Path(folder)
    parts = {}
    for split, names in _MNIST_FILES.items():
        arrays = []
        for name in names:
            candidates = [folder / f"{name}.gz", folder / name]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise FileNotFoundError(f"{name}(.gz) not found in {folder}.")
            arrays.append(load_idx(found))
        images, labels = arrays
        if len(images) != len(labels):
            raise ValueError(
                f"{folder}: {len(images)} {split} images but {len(labels)} {split} labels."
            )
        parts[split] = (images, labels)
    return parts["train"], parts["test"]


def _open_text(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LIBSVM file not found: {path}")
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
    return opener(path, "rb")


def iter_svmlight_chunks(path, n_features, chunk_rows=10_000, zero_based=False):
    """Read a LIBSVM / svmlight file ``chunk_rows`` lines at a time.

    Only one chunk is in memory at a time, so that a file larger than memory
    can train an estimator with ``partial_fit``.

    Parameters
    ----------
    path : str or path-like
        The file, optionally compressed (``.gz``, ``.bz2``).
    n_features : int
        Number of features of the whole file (a chunk may not use them all).
    chunk_rows : int, default=10_000
        Rows per chunk (the last one may have fewer).
    zero_based : bool, default=False
        Whether feature indices start at 0. LIBSVM files start at 1 (the
        default). Unlike ``load_svmlight_file``, there is no ``"auto"``: it
        would guess per chunk, and a chunk that does not happen to use
        feature 0 would be read shifted by one.

    Yields
    ------
    X : scipy.sparse.csr_matrix of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,)

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a file.
    ValueError
        When a chunk is not valid svmlight text, or uses a feature index
        beyond ``n_features``; the message names the file and the first line
        of the chunk.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}.")
    with _open_text(path) as f:
        first_line = 1
        while True:
            try:
                lines = list(itertools.islice(f, chunk_rows))
            except (EOFError, OSError, zlib.error) as exc:  # truncated or corrupt compression
                raise ValueError(
                    f"{path}: cannot be read after line {first_line - 1}: {exc}"
                ) from exc
            if not lines:
                return
            try:
                X, y = load_svmlight_file(
                    io.BytesIO(b"".join(lines)), n_features=n_features, zero_based=zero_based
                )
            except (ValueError, OverflowError) as exc:
                raise ValueError(
                    f"{path}: lines {first_line}-{first_line + len(lines) - 1} are not valid "
                    f"svmlight text with {n_features} features: {exc}"
                ) from exc
            yield X, y
            first_line += len(lines)
