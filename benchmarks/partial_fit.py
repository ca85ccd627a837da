"""partial_fit against fit: test accuracy after each pass over the data in chunks.

The training rows are shuffled once and cut into ``--chunks`` chunks; every
pass calls ``partial_fit`` on each chunk in turn. ``fit`` on all rows at once
is the reference. Prints one line per pass and per fit (JSON lines with
``--json``).

    python benchmarks/partial_fit.py --mnist ../shared/data/mnist --C 10 --n-components 2048
    python benchmarks/partial_fit.py                      # digits, a few seconds
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import kernelsvm_keras  # noqa: E402
from kernelsvm_keras import KerasSVC  # noqa: E402
from kernelsvm_keras.datasets import load_mnist  # noqa: E402


def load(args):
    if args.mnist is None:
        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X / 16.0, y, test_size=0.3, random_state=0, stratify=y
        )
        return X_train, X_test, y_train, y_test, "digits"
    try:
        (x_train, y_train), (x_test, y_test) = load_mnist(args.mnist)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    X_train = x_train.reshape(-1, 784).astype(np.float32) / 255.0
    X_test = x_test.reshape(-1, 784).astype(np.float32) / 255.0
    return X_train, X_test, y_train, y_test, "MNIST"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", help="folder with the MNIST IDX files (default: digits)")
    parser.add_argument("--C", type=float, default=10.0)
    parser.add_argument("--n-components", type=int, default=1024)
    parser.add_argument("--loss", choices=("hinge", "squared_hinge"), default="squared_hinge")
    parser.add_argument("--chunks", type=int, default=10)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--json", help="append one JSON line per result to this file")
    args = parser.parse_args(argv)
    X_train, X_test, y_train, y_test, name = load(args)
    params = dict(C=args.C, n_components=args.n_components, loss=args.loss, random_state=0)
    common = {
        "dataset": name,
        **params,
        "chunks": args.chunks,
        "backend": keras.backend.backend(),
        "kernelsvm_keras": kernelsvm_keras.__version__,
    }
    rows = []

    start = time.perf_counter()
    fitted = KerasSVC(**params).fit(X_train, y_train)
    rows.append(
        {
            "method": "fit",
            "seconds": time.perf_counter() - start,
            "test_accuracy": fitted.score(X_test, y_test),
        }
    )
    print(
        f"fit: test_accuracy={rows[-1]['test_accuracy']:.4f} ({rows[-1]['seconds']:.1f} s)",
        flush=True,
    )

    classes = np.unique(y_train)
    chunks = np.array_split(np.random.RandomState(0).permutation(len(y_train)), args.chunks)
    stream = KerasSVC(**params)
    elapsed = 0.0
    for p in range(1, args.passes + 1):
        start = time.perf_counter()
        for rows_of_chunk in chunks:
            stream.partial_fit(X_train[rows_of_chunk], y_train[rows_of_chunk], classes=classes)
        elapsed += time.perf_counter() - start
        rows.append(
            {
                "method": f"partial_fit, {p} pass(es)",
                "seconds": elapsed,
                "test_accuracy": stream.score(X_test, y_test),
            }
        )
        print(
            f"partial_fit pass {p}: test_accuracy={rows[-1]['test_accuracy']:.4f} "
            f"({elapsed:.1f} s)",
            flush=True,
        )
    if args.json:
        with open(args.json, "a") as f:
            for row in rows:
                f.write(json.dumps({**common, **row}) + "\n")
    return rows


if __name__ == "__main__":
    main()
