"""Fit time and peak memory of KerasSVC as the number of rows grows past memory.

HIGGS-like data (``make_classification``: 28 float32 features, two classes,
5% flipped labels) is generated once into a ``.npy`` file; every size is then
fitted in a fresh process on the first ``n`` rows of that file opened as a
memory map, so that each process's peak resident memory (``ru_maxrss``) is
its own. With ``n_components=4096`` the feature matrix (``n x 4096`` float32:
8 GB at 500k rows, 32 GB at 2M) is far above ``cache_size``: ``fit`` streams
it, recomputing the features block by block at every pass over the data (with
landmarks, the default ``approximation``, the kernel block alone: the
normalisation is applied on the coefficients' side).

    python benchmarks/scale.py --sizes 500000 2000000 --json benchmarks/out/scale.jsonl
    python benchmarks/scale.py --quick          # 20k and 80k rows, 512 features
    python benchmarks/scale.py --sizes 100000 --approximation random_fourier

Prints one line per size (fit time, Newton iterations, peak RSS, the size of
X) and the ratio of fit times of the largest to the smallest size.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from machine import cpu

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

N_TEST = 100_000


def generate(path, n_rows, seed):
    """Write ``n_rows + N_TEST`` HIGGS-like rows and labels next to ``path``."""
    import numpy as np
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_rows + N_TEST,
        n_features=28,
        n_informative=20,
        n_redundant=4,
        n_clusters_per_class=4,
        flip_y=0.05,
        random_state=seed,
    )
    np.save(path + ".X.npy", X.astype(np.float32))
    np.save(path + ".y.npy", y.astype(np.int8))


def fit_one(path, n_rows, args):
    """Fit on the first ``n_rows`` rows in this process; return a result dict."""
    import keras
    import numpy as np
    import sklearn

    import kernelsvm_keras
    from kernelsvm_keras import KerasSVC

    X = np.load(path + ".X.npy", mmap_mode="r")
    y = np.load(path + ".y.npy")
    X_train, y_train = X[:n_rows], y[:n_rows]
    X_test, y_test = np.asarray(X[-N_TEST:]), y[-N_TEST:]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    est = KerasSVC(
        C=args.C,
        n_components=args.n_components,
        loss=args.loss,
        cache_size=args.cache_size,
        approximation=args.approximation,
        random_state=0,
    )
    start = time.perf_counter()
    est.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    peak_fit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    accuracy = est.score(X_test, y_test)
    predict_s = time.perf_counter() - start
    return {
        "n_rows": n_rows,
        "n_components": args.n_components,
        "C": args.C,
        "loss": args.loss,
        "approximation": args.approximation,
        "feature_map": type(est._map).__name__,
        "cache_size_mb": args.cache_size,
        "fit_s": round(fit_s, 2),
        "n_iter": int(np.max(est.n_iter_)),
        "dual_gap": float(est.dual_gap_.max()),
        "test_accuracy": round(float(accuracy), 5),
        "predict_rows_per_s": round(N_TEST / predict_s),
        "X_bytes": int(X_train.nbytes),
        "peak_rss_before_fit_bytes": int(rss_before),
        "peak_rss_fit_bytes": int(peak_fit),
        "peak_rss_minus_X_gib": round((peak_fit - X_train.nbytes) / 2**30, 3),
        "backend": keras.backend.backend(),
        "versions": {
            "kernelsvm_keras": kernelsvm_keras.__version__,
            "keras": keras.__version__,
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
        },
        "machine": f"{cpu()}, {os.cpu_count()} CPUs",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500_000, 2_000_000])
    parser.add_argument("--n-components", type=int, default=4096)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--loss", choices=("hinge", "squared_hinge"), default="squared_hinge")
    parser.add_argument("--cache-size", type=float, default=1024, help="KerasSVC cache_size, MB")
    parser.add_argument(
        "--approximation", choices=("auto", "nystroem", "random_fourier"), default="auto"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", help="prefix of the generated files (default: a temp dir)")
    parser.add_argument("--quick", action="store_true", help="20k and 80k rows, 512 features")
    parser.add_argument("--json", help="append one JSON line per size to this file")
    parser.add_argument("--_child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.n_components, args.cache_size = [20_000, 80_000], 512, 16

    if args._child is not None:  # one size, in its own process
        print(json.dumps(fit_one(args.data, args._child, args)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        if args.data is None:
            args.data = os.path.join(tmp, "higgs_like")
        if not os.path.exists(args.data + ".X.npy"):
            print(f"generating {max(args.sizes)} + {N_TEST} rows ...", file=sys.stderr)
            generate(args.data, max(args.sizes), args.seed)
        rows = []
        for n in sorted(args.sizes):
            child = [sys.executable, __file__, "--_child", str(n), "--data", args.data]
            child += ["--n-components", str(args.n_components), "--C", str(args.C)]
            child += ["--loss", args.loss, "--cache-size", str(args.cache_size)]
            child += ["--approximation", args.approximation]
            out = subprocess.run(child, check=True, capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            rows.append(row)
            print(
                f"n={n:>9}  {row['feature_map']}  fit {row['fit_s']:8.1f} s  "
                f"{row['n_iter']:3d} Newton iterations  "
                f"test acc {row['test_accuracy']:.4f}  "
                f"peak RSS {row['peak_rss_fit_bytes'] / 2**30:.2f} GiB = "
                f"X ({row['X_bytes'] / 2**30:.2f} GiB) + "
                f"{row['peak_rss_minus_X_gib']:.2f} GiB",
                flush=True,
            )
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")
        small, large = rows[0], rows[-1]
        print(
            f"t({large['n_rows']}) / t({small['n_rows']}) = "
            f"{large['fit_s'] / small['fit_s']:.2f} for {large['n_rows'] / small['n_rows']:.0f}x "
            "the rows"
        )


if __name__ == "__main__":
    main()
