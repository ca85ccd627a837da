"""How well landmarks and random features approximate the kernel, on your data.

For one dataset (read and scaled as ``compare.py`` does), ``gamma="scale"``,
the RBF kernel and each ``--n-components`` and ``--random-state``: the
landmarks of ``KerasSVC(approximation="nystroem")`` and the random features
of ``approximation="random_fourier"`` with that seed, and ``--sample``
training rows that are not landmarks (the next rows of the landmarks' own
permutation). Prints per map the relative error of the approximated kernel
matrix of the sample, ``||K - phi phi^T||_F / ||K||_F``, and for the
landmarks the share of sample rows whose kernel norm ``k(x, x)`` they
capture less than half of (``||phi(x)||^2 < k(x, x) / 2``: such a row is
far from every landmark, and the model's value there is nearly its
intercept). One JSON line per case.

    python benchmarks/maps.py --train ../shared/data/w8a/w8a --n-features 300 --scale standard
    python benchmarks/maps.py --train train-images-idx3-ubyte.gz \\
        --train-labels train-labels-idx1-ubyte.gz --n-components 256 1024 2048 4096
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402

from kernelsvm_keras._kernels import kernel_matrix_numpy  # noqa: E402
from kernelsvm_keras._maps import LandmarkMap, RandomFourierMap  # noqa: E402

from compare import load, preprocess  # noqa: E402


def approximation(X, m, seed, sample):
    """The errors of both maps with ``m`` features and seed ``seed`` on ``sample`` rows."""
    landmarks = LandmarkMap("rbf", "scale", n_components=m).fit(X, check_random_state(seed))
    order = check_random_state(seed).permutation(X.shape[0])  # the landmarks' own draw
    rows = X[order[m : m + sample]]
    if rows.shape[0] == 0:
        return None
    exact = kernel_matrix_numpy(rows, rows, "rbf", landmarks.gamma_)
    random = RandomFourierMap("rbf", landmarks.gamma_, n_components=m)
    random.fit(X, check_random_state(seed))
    norm = np.linalg.norm(exact)
    row = {"n_components": m, "random_state": seed, "gamma": round(landmarks.gamma_, 6)}
    for name, fitted in (("landmarks", landmarks), ("random_features", random)):
        start = time.perf_counter()
        phi = fitted.features(rows)
        row[f"{name}_kernel_error"] = round(float(np.linalg.norm(exact - phi @ phi.T) / norm), 4)
        if name == "landmarks":
            captured = np.einsum("ij,ij->i", phi, phi)
            row["rows_under_half"] = round(float(np.mean(captured < 0.5)), 4)
        row[f"{name}_seconds"] = round(time.perf_counter() - start, 3)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["digits", "breast_cancer"], default="digits")
    parser.add_argument("--train")
    parser.add_argument("--train-labels")
    parser.add_argument("--n-features", type=int)
    parser.add_argument("--scale")
    parser.add_argument("--n-components", type=int, nargs="+", default=[2048])
    parser.add_argument("--random-state", type=int, nargs="+", default=[0])
    parser.add_argument("--sample", type=int, default=1000)
    args = parser.parse_args(argv)
    args.test = args.test_labels = args.max_train = None
    X, _, _, _, name, scale = load(args)
    X, _ = preprocess(X, X[:1], scale)
    X = np.asarray(X, dtype=np.float64)
    for m in args.n_components:
        for seed in args.random_state:
            row = approximation(X, m, seed, args.sample)
            if row is not None:
                print(json.dumps({"dataset": name, "rows": X.shape[0], **row}), flush=True)


if __name__ == "__main__":
    main()
