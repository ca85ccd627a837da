"""The path-based dataset readers."""

import struct

import numpy as np
import pytest

from kernelsvm_keras.datasets import load_idx, load_mnist


@pytest.mark.parametrize("compress", [True, False])
def test_load_idx_round_trip(tmp_path, compress, write_idx):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array, compress)
    np.testing.assert_array_equal(load_idx(path), array)


def test_load_idx_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_idx(tmp_path / "missing.gz")
    (tmp_path / "bad").write_bytes(b"not an idx file")
    with pytest.raises(ValueError, match="magic"):
        load_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"abc")
    with pytest.raises(ValueError, match="holds 3 values"):
        load_idx(tmp_path / "short")


def test_load_mnist(tmp_path, write_idx):
    images, labels = np.zeros((5, 28, 28)), np.arange(5)
    for prefix in ("train", "t10k"):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels, compress=False)
    (x_train, y_train), (x_test, y_test) = load_mnist(tmp_path)
    assert x_train.shape == (5, 28, 28) and y_test.tolist() == [0, 1, 2, 3, 4]
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels"):
        load_mnist(tmp_path)
