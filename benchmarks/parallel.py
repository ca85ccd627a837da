"""``GridSearchCV(KerasSVC(), grid, n_jobs=k)``: does ``n_jobs`` speed a search up?

Each configuration runs in a fresh Python process (so the workers' start,
their import of Keras and its backend included, is in the time) and times
``GridSearchCV(estimator, grid, cv=3, n_jobs=k).fit(X, y)`` only, with
``KerasSVC()`` at its defaults and ``SVC()`` beside it for reference. The
grid is 2 values of ``C`` times 2 of ``gamma`` (4 candidates, 12 fits).
Prints a markdown table and, with ``--json``, one JSON line per run.

``--unconfigured`` also runs ``KerasSVC`` with the workers' thread pools left
at the backend's defaults (``TF_NUM_INTRAOP_THREADS=0`` and
``TF_NUM_INTEROP_THREADS=0`` in the parent, which the workers inherit and
:mod:`kernelsvm_keras._workers` then leaves alone): the behaviour before it.

Examples
--------
::

    python benchmarks/parallel.py --datasets iris digits
    python benchmarks/parallel.py --datasets mnist --mnist ../shared/data/mnist --rows 20000
"""

import argparse
import json
import os
import subprocess
import sys
import time

_CHILD = r"""
import json, sys, time
import numpy as np
args = json.loads(sys.argv[1])
start = time.perf_counter()
import kernelsvm_keras  # noqa: F401  (as a user's script would, before the search)
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC
from kernelsvm_keras import KerasSVC
imported = time.perf_counter() - start
name = args["dataset"]
if name == "iris":
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
elif name == "digits":
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
else:
    from kernelsvm_keras.datasets import load_idx
    X = load_idx(args["mnist"] + "/train-images-idx3-ubyte.gz")
    X = X.reshape(len(X), -1)[: args["rows"]].astype(np.float32) / 255.0
    y = load_idx(args["mnist"] + "/train-labels-idx1-ubyte.gz")[: args["rows"]]
estimator = KerasSVC(random_state=0) if args["system"] == "KerasSVC" else SVC()
grid = {"C": [1.0, 10.0], "gamma": ["scale", args["gamma"]]}
search = GridSearchCV(estimator, grid, cv=3, n_jobs=args["n_jobs"])
start = time.perf_counter()
search.fit(X, y)
seconds = time.perf_counter() - start
print(json.dumps(dict(args, seconds=seconds, imported=imported, best=search.best_params_,
                      score=search.best_score_, n_rows=len(X))))
"""

_GAMMA = {"iris": 0.1, "digits": 0.02, "mnist": 0.02}


def run(config, unconfigured=False):
    env = dict(os.environ)
    if unconfigured:
        env["TF_NUM_INTRAOP_THREADS"] = env["TF_NUM_INTEROP_THREADS"] = "0"
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(config)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise SystemExit(f"run {config} failed:\n{out.stderr[-3000:]}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["unconfigured"] = unconfigured
    row["stderr_lines"] = len(out.stderr.strip().splitlines())
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["iris", "digits"])
    parser.add_argument("--mnist", help="folder of MNIST's IDX files (for --datasets mnist)")
    parser.add_argument("--rows", type=int, default=20000, help="MNIST training rows")
    parser.add_argument("--n-jobs", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--systems", nargs="+", default=["KerasSVC", "SVC"])
    parser.add_argument("--unconfigured", action="store_true")
    parser.add_argument("--json", help="append one JSON line per run to this file")
    args = parser.parse_args(argv)
    rows = []
    for dataset in args.datasets:
        for system in args.systems:
            variants = [False, True] if args.unconfigured and system == "KerasSVC" else [False]
            for unconfigured in variants:
                for n_jobs in args.n_jobs:
                    config = {
                        "dataset": dataset,
                        "system": system,
                        "n_jobs": n_jobs,
                        "gamma": _GAMMA[dataset],
                        "mnist": args.mnist,
                        "rows": args.rows,
                    }
                    started = time.time()
                    row = run(config, unconfigured)
                    print(
                        f"{dataset} {system} n_jobs={n_jobs} unconfigured={unconfigured}: "
                        f"{row['seconds']:.1f} s ({time.time() - started:.0f} s with start-up)",
                        file=sys.stderr,
                    )
                    rows.append(row)
                    if args.json:
                        with open(args.json, "a") as f:
                            f.write(json.dumps(row) + "\n")
    print("| data | rows | system | worker threads | n_jobs | search (s) | speed-up | best |")
    print("|---|---:|---|---|---:|---:|---:|---|")
    base = {}
    for row in rows:
        key = (row["dataset"], row["system"], row["unconfigured"])
        if row["n_jobs"] == 1:
            base[key] = row["seconds"]
        speedup = base.get(key, float("nan")) / row["seconds"]
        threads = "backend default" if row["unconfigured"] else "worker's share"
        print(
            f"| {row['dataset']} | {row['n_rows']} | {row['system']} | {threads} | "
            f"{row['n_jobs']} | {row['seconds']:.2f} | {speedup:.2f} | {row['best']} |"
        )


if __name__ == "__main__":
    main()
