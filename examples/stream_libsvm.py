"""Out-of-core training: KerasSVC on a LIBSVM file read a chunk at a time.

Only one chunk of rows is in memory at a time; ``partial_fit`` makes one pass
of averaged SGD over each, and the whole file is passed several times. The
test file is scored chunk by chunk as well. With ``--compare-fit`` the
training file is also loaded whole and fitted with ``fit``, for reference.

    python examples/stream_libsvm.py ../shared/data/a9a/a9a ../shared/data/a9a/a9a.t \\
        --n-features 123 --compare-fit
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_svmlight_file

from kernelsvm_keras import KerasSVC
from kernelsvm_keras.datasets import iter_svmlight_chunks


def labels_of(path, n_features, chunk_rows):
    """Every label of the file (``partial_fit`` needs them all on its first call)."""
    return np.unique(
        np.concatenate([y for _, y in iter_svmlight_chunks(path, n_features, chunk_rows)])
    )


def chunked_accuracy(est, path, n_features, chunk_rows):
    correct = total = 0
    for X, y in iter_svmlight_chunks(path, n_features, chunk_rows):
        correct += int(np.sum(est.predict(X) == y))
        total += len(y)
    return correct / total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", help="LIBSVM training file (.gz / .bz2 accepted)")
    parser.add_argument("test", help="LIBSVM test file")
    parser.add_argument("--n-features", type=int, required=True)
    parser.add_argument("--chunk-rows", type=int, default=5000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--gamma", default="scale", help="'scale', 'auto' or a number")
    parser.add_argument("--n-components", type=int, default=1024)
    parser.add_argument("--compare-fit", action="store_true", help="also fit on the whole file")
    args = parser.parse_args(argv)
    gamma = args.gamma if args.gamma in ("scale", "auto") else float(args.gamma)

    classes = labels_of(args.train, args.n_features, args.chunk_rows)
    est = KerasSVC(C=args.C, gamma=gamma, n_components=args.n_components, random_state=0)
    results = {}
    start = time.perf_counter()
    for p in range(1, args.passes + 1):
        for X, y in iter_svmlight_chunks(args.train, args.n_features, args.chunk_rows):
            est.partial_fit(X, y, classes=classes)
        accuracy = chunked_accuracy(est, args.test, args.n_features, args.chunk_rows)
        results[f"partial_fit pass {p}"] = accuracy
        print(
            f"pass {p}: test_accuracy={accuracy:.4f} "
            f"({est.n_samples_seen_} rows seen, {time.perf_counter() - start:.1f} s)"
        )
    if args.compare_fit:
        X, y = load_svmlight_file(args.train, n_features=args.n_features, zero_based=False)
        start = time.perf_counter()
        fitted = KerasSVC(C=args.C, gamma=gamma, n_components=args.n_components, random_state=0)
        fitted.fit(X, y)
        accuracy = chunked_accuracy(fitted, args.test, args.n_features, args.chunk_rows)
        results["fit"] = accuracy
        print(
            f"fit (whole file in memory): test_accuracy={accuracy:.4f} "
            f"({time.perf_counter() - start:.1f} s)"
        )
    return results


if __name__ == "__main__":
    main()
