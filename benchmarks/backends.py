"""The same fits on each Keras backend, each in a fresh process: wall time, compilation included.

JAX compiles every program it runs for its shapes, so a fresh process pays
for compilation that TensorFlow's eager operations do not; later fits of the
same shapes reuse the programs. Each backend runs the workloads below in a
process of its own, in order, and prints one JSON line per workload (backend,
device, seconds, and the score where there is one):

* ``readme-grid``: the README's quickstart ``GridSearchCV`` (digits, a
  ``StandardScaler`` + ``KerasSVC(C=10)`` pipeline, ``C`` in {1, 10} x
  ``n_components`` in {512, 2048}, 3 folds);
* ``readme-cv``: the README's ``KerasSVCCV(Cs=[1, 10], gammas=[0.01, 0.02],
  cv=3)`` on the same digits;
* with ``--mnist``: ``KerasSVC(C=10)`` (2048 landmarks) on the first
  ``--rows`` MNIST training rows, fitted twice: the first fit compiles, the
  second reuses; test accuracy on the 10,000 test images.

With ``--jax-cache DIR``, JAX runs the workloads twice more with its
persistent compilation cache in ``DIR`` (``JAX_COMPILATION_CACHE_DIR``,
every program kept: ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0``,
``JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=-1``): the first process fills
it (``"cache": "cold"``, from an empty ``DIR``), the second reads it
(``"warm"``), as a new session or a joblib worker would.

Usage::

    python benchmarks/backends.py [--backends tensorflow jax] [--mnist PATH/mnist --rows 10000]
    python benchmarks/backends.py --backends jax --mnist PATH/mnist --rows 20000 --jax-cache /tmp/c
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _report(head, workload, seconds, score, **extra):
    """Print one JSON line: the backend and device, the workload, its time and score."""
    row = {**head, "workload": workload, "seconds": round(seconds, 2), "score": round(score, 4)}
    print(json.dumps({**row, **extra}), flush=True)


def worker(args):
    """Run the workloads in this process (its backend chosen by ``KERAS_BACKEND``)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from kernelsvm_keras import KerasSVC, KerasSVCCV
    from kernelsvm_keras._keras import keras
    from kernelsvm_keras._solver import device_report

    head = {"backend": keras.backend.backend(), "device": device_report()}
    if os.environ.get("JAX_COMPILATION_CACHE_DIR") and head["backend"] == "jax":
        head["cache"] = args.cache
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

    model = make_pipeline(StandardScaler(), KerasSVC(C=10, random_state=0))
    grid = {"kerassvc__C": [1, 10], "kerassvc__n_components": [512, 2048]}
    search, seconds = _timed(lambda: GridSearchCV(model, grid, cv=3).fit(X_train, y_train))
    _report(head, "readme-grid", seconds, search.score(X_test, y_test))

    search = KerasSVCCV(Cs=[1, 10], gammas=[0.01, 0.02], cv=3, random_state=0)
    search, seconds = _timed(lambda: search.fit(X_train / 16, y_train))
    _report(head, "readme-cv", seconds, search.score(X_test / 16, y_test))

    if args.mnist:
        from kernelsvm_keras.datasets import load_mnist

        (X, y), (X_test, y_test) = load_mnist(args.mnist)
        X = X.reshape(len(X), -1)[: args.rows] / 255.0
        X_test = X_test.reshape(len(X_test), -1) / 255.0
        y = y[: args.rows]
        for fit in ("first", "second"):
            model, seconds = _timed(lambda: KerasSVC(C=10, random_state=0).fit(X, y))
            workload = f"mnist-{args.rows}-{fit}-fit"
            score = model.score(X_test, y_test)
            _report(head, workload, seconds, score, n_iter=int(model.n_iter_.max()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--mnist", help="folder of the MNIST IDX files")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument(
        "--jax-cache",
        metavar="DIR",
        help="also run JAX twice with its persistent compilation cache in DIR (emptied first)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    runs = [(backend, {}, None) for backend in args.backends]
    if args.jax_cache:
        shutil.rmtree(args.jax_cache, ignore_errors=True)
        cache = {
            "JAX_COMPILATION_CACHE_DIR": args.jax_cache,
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
        }
        runs += [("jax", cache, "cold"), ("jax", cache, "warm")]
    for backend, extra, state in runs:
        env = {**os.environ, "KERAS_BACKEND": backend, **extra}
        if not extra:
            env.pop("JAX_COMPILATION_CACHE_DIR", None)  # (the runs without a cache)
        command = [sys.executable, __file__, "--worker", "--rows", str(args.rows)]
        if args.mnist:
            command += ["--mnist", args.mnist]
        if state:
            command += ["--cache", state]
        subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
