import gzip
import os
import struct

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _write_idx(path, array, compress=True):
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def write_idx():
    """Writes an array as an unsigned-byte IDX file (gzip-compressed by default)."""
    return _write_idx


@pytest.fixture
def tiny_mnist(tmp_path):
    """MNIST-shaped IDX files: two classes of images that differ by their bright half."""
    rng = np.random.RandomState(0)
    for prefix, n in [("train", 256), ("t10k", 128)]:
        labels = rng.randint(0, 2, size=n)
        images = rng.randint(0, 60, size=(n, 28, 28))
        images[labels == 1, :14] += 180
        images[labels == 0, 14:] += 180
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return tmp_path


@pytest.fixture
def newton(monkeypatch):
    """Every problem through the Newton solver, however small (the dual route off).

    For the tests whose subject is the Newton iterations themselves: below
    ``kernelsvm_keras._dual._MAX_ROWS`` rows the estimators solve the exact
    dual instead.
    """
    from kernelsvm_keras import _dual

    monkeypatch.setattr(_dual, "_MAX_ROWS", 0)
    monkeypatch.setattr(_dual, "_KERNEL_FLOPS", 0)
