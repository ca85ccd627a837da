"""The path-based dataset readers."""

import bz2
import gzip
import struct

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file, load_digits

from kernelsvm_keras.datasets import iter_svmlight_chunks, load_idx, load_mnist


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


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2"])
def test_iter_svmlight_chunks_reads_the_file_in_pieces(tmp_path, suffix):
    X, y = load_digits(return_X_y=True)
    X, y = X[:95], y[:95]
    plain = tmp_path / "digits.svm"
    dump_svmlight_file(X, y, str(plain), zero_based=False)
    path = tmp_path / f"digits.svm{suffix}"
    if suffix:
        opener = {".gz": gzip.open, ".bz2": bz2.open}[suffix]
        with opener(path, "wb") as f:
            f.write(plain.read_bytes())
    chunks = list(iter_svmlight_chunks(path, n_features=64, chunk_rows=20))
    assert [len(c[1]) for c in chunks] == [20, 20, 20, 20, 15]
    assert all(sp.issparse(Xc) and Xc.shape[1] == 64 for Xc, _ in chunks)
    np.testing.assert_array_equal(sp.vstack([c[0] for c in chunks]).toarray(), X)
    np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks]), y)


def test_iter_svmlight_chunks_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="LIBSVM file not found"):
        next(iter_svmlight_chunks(tmp_path / "absent", n_features=3))
    bad = tmp_path / "bad.svm"
    bad.write_text("1 1:0.5\n-1 2:1.0\n1 7:2.0\n")
    with pytest.raises(ValueError, match="lines 3-3 are not valid svmlight text with 3 features"):
        list(iter_svmlight_chunks(bad, n_features=3, chunk_rows=2))
    with pytest.raises(ValueError, match="chunk_rows"):
        next(iter_svmlight_chunks(bad, n_features=3, chunk_rows=0))


def test_load_idx_reads_no_further_than_its_header(tmp_path):
    # A small .gz that expands to far more than its header promises: the
    # reader stops after the promised bytes (one more to see there is more).
    path = tmp_path / "bomb.gz"
    header = bytes([0, 0, 8, 1]) + struct.pack(">I", 10)
    with gzip.open(path, "wb") as f:
        f.write(header + bytes(10))
        for _ in range(64):
            f.write(bytes(2**20))  # 64 MiB of zeros beyond the 10 promised
    opened = []
    real_open = gzip.open

    class Counting:
        def __init__(self, f):
            self.f, self.read_bytes = f, 0

        def read(self, size=-1):
            data = self.f.read(size)
            self.read_bytes += len(data)
            return data

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def counting_open(*args, **kwargs):
        opened.append(Counting(real_open(*args, **kwargs)))
        return opened[-1]

    import kernelsvm_keras.datasets as datasets

    datasets.gzip.open = counting_open
    try:
        with pytest.raises(ValueError, match="more than the 10 values"):
            load_idx(path)
    finally:
        datasets.gzip.open = real_open
    assert opened[0].read_bytes <= len(header) + 11


@pytest.mark.parametrize("damage", ["truncated", "bad_crc"])
def test_damaged_gzip_idx_is_a_value_error(tmp_path, damage, write_idx):
    path = tmp_path / "a.idx.gz"
    write_idx(path, np.arange(4000).reshape(40, 100) % 256)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="a.idx.gz"):
        load_idx(path)


def test_svmlight_index_overflow_is_a_value_error_with_context(tmp_path):
    path = tmp_path / "big.svm"
    path.write_bytes(b"1 1:0.5\n1 1:0.5 1099511627776:2\n")
    with pytest.raises(ValueError, match=r"big.svm: lines 1-2"):
        list(iter_svmlight_chunks(path, n_features=3))


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
@pytest.mark.parametrize("damage", ["truncated", "bad_crc"])
def test_damaged_compressed_svmlight_is_a_value_error(tmp_path, suffix, damage):
    X, y = load_digits(return_X_y=True)
    plain = tmp_path / "d.svm"
    dump_svmlight_file(X[:300], y[:300], str(plain))
    opener = gzip.open if suffix == ".gz" else bz2.open
    path = tmp_path / f"d.svm{suffix}"
    with opener(path, "wb") as f:
        f.write(plain.read_bytes())
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif suffix == ".gz":
        data[-8] ^= 0xFF
    else:
        data[len(data) // 2] ^= 0xFF  # bz2 checks each block's CRC
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"d.svm{suffix}"):
        list(iter_svmlight_chunks(path, n_features=64, chunk_rows=50))
