"""The fit's kernel block on TensorFlow: eager operations against one graph.

``kernelsvm_keras._maps._kernel_block`` computes ``k(X_block, Z)`` for the
fit (the features' cache, or every pass of streamed features), eagerly on
TensorFlow: its product and its five elementwise passes each write a fresh
tensor. As one ``tf.function`` graph (``reduce_retracing=True``, ``gamma``
and ``coef0`` float32 tensors) they do not; measured, and not adopted
(``benchmarks/RESULTS.md``, "The kernel block as one TensorFlow graph").
Each mode runs in a fresh process (the first call pays the trace, or eager's
own first-call costs), on random rows of ``--features`` columns against
``--landmarks`` landmarks, ``--calls`` calls per block size.

Usage::

    python benchmarks/kernel_block.py [--rows 500 2000 7500] [--landmarks 2048] [--features 784]
"""

import argparse
import json
import subprocess
import sys
import time


def _run(mode, rows, landmarks, features, calls, kernel):
    import numpy as np
    from keras import ops

    from kernelsvm_keras import _kernels

    rng = np.random.default_rng(0)
    Z = ops.convert_to_tensor(rng.random((landmarks, features), dtype=np.float32))
    X = ops.convert_to_tensor(rng.random((rows, features), dtype=np.float32))
    gamma = ops.convert_to_tensor(np.float32(1.0 / features))
    coef0 = ops.convert_to_tensor(np.float32(0.0))

    def eager(x, z, g, c):
        return _kernels.kernel_matrix(x, z, kernel, g, 3, c)

    if mode == "graph":
        import tensorflow as tf

        program = tf.function(eager, reduce_retracing=True)
    else:
        program = eager

    def block():
        return program(X, Z, gamma, coef0)

    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        ops.convert_to_numpy(block())
        seconds.append(time.perf_counter() - start)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[500, 2000, 7500])
    parser.add_argument("--landmarks", type=int, default=2048)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--kernel", default="rbf", choices=["rbf", "poly", "sigmoid", "linear"])
    parser.add_argument("--repeats", type=int, default=2, help="fresh processes per mode")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, rows = args.child[0], int(args.child[1])
        seconds = _run(mode, rows, args.landmarks, args.features, args.calls, args.kernel)
        print(json.dumps(seconds))
        return
    print(f"| rows | mode | calls ({args.landmarks} landmarks, {args.features} features), s |")
    print("|---:|---|---|")
    for rows in args.rows:
        for _ in range(args.repeats):
            for mode in ("eager", "graph"):
                command = [sys.executable, __file__, "--child", mode, str(rows)]
                command += ["--landmarks", str(args.landmarks), "--features", str(args.features)]
                command += ["--calls", str(args.calls), "--kernel", args.kernel]
                out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                seconds = json.loads(out.strip().splitlines()[-1])
                print(f"| {rows} | {mode} | {' / '.join(f'{s:.3f}' for s in seconds)} |")


if __name__ == "__main__":
    main()
