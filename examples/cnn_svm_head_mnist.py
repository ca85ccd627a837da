"""Train a small CNN with an SVM head on MNIST, end to end, in Keras 3.

The head is the SVM objective written as a Keras loss: a linear layer (or
random Fourier features and a linear layer: an approximate RBF-kernel SVM on
the CNN's embedding) with the L2 strength ``1 / (2 C n)`` on its kernel, and
the one-vs-rest (squared) hinge on integer labels. This is the keras-io
"quasi-SVM" recipe, on Keras 3 and any backend.

    python examples/cnn_svm_head_mnist.py /path/to/mnist --epochs 3

``/path/to/mnist`` holds the four IDX files (``train-images-idx3-ubyte.gz``,
...); nothing is downloaded. Prints the test accuracy.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kernelsvm_keras.datasets import load_mnist  # noqa: E402
from kernelsvm_keras.layers import RandomFourierFeatures  # noqa: E402
from kernelsvm_keras.losses import OneVsRestHinge, OneVsRestSquaredHinge, l2_for_C  # noqa: E402


def build_model(head, C, n_samples, seed):
    """A small CNN whose last layers are an SVM: linear, or RBF through random features."""
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(32, 3, activation="relu", kernel_initializer=init(seed))(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, activation="relu", kernel_initializer=init(seed + 1))(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(128, activation="relu", kernel_initializer=init(seed + 2))(x)
    if head == "rff":
        # Fixed random features of the embedding: the Dense layer after them is a
        # linear SVM in the approximate RBF kernel space.
        x = keras.layers.LayerNormalization()(x)
        x = RandomFourierFeatures(2048, gamma=1.0 / 128, seed=seed)(x)
    outputs = keras.layers.Dense(
        10,
        kernel_regularizer=keras.regularizers.L2(l2_for_C(C, n_samples)),  # the SVM's C
        kernel_initializer=init(seed + 3),
        name="svm",
    )(x)
    return keras.Model(inputs, outputs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mnist", help="folder with the four MNIST IDX files")
    parser.add_argument("--head", choices=["linear", "rff"], default="linear")
    parser.add_argument("--loss", choices=["hinge", "squared_hinge"], default="squared_hinge")
    parser.add_argument("--C", type=float, default=10.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-train", type=int, default=None, help="use the first N rows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = load_mnist(args.mnist)
    if args.max_train is not None:
        x_train, y_train = x_train[: args.max_train], y_train[: args.max_train]
    x_train = (x_train / 255.0).astype("float32")[..., None]
    x_test = (x_test / 255.0).astype("float32")[..., None]

    model = build_model(args.head, args.C, len(x_train), args.seed)
    loss = OneVsRestHinge() if args.loss == "hinge" else OneVsRestSquaredHinge()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, verbose=2)
    seconds = time.perf_counter() - start
    scores = model.predict(x_test, batch_size=1024, verbose=0)
    accuracy = float(np.mean(np.argmax(scores, axis=1) == y_test))
    print(
        f"backend={keras.backend.backend()} head={args.head} loss={args.loss} C={args.C} "
        f"epochs={args.epochs} train_rows={len(x_train)} fit_s={seconds:.1f} "
        f"test_accuracy={accuracy:.4f}"
    )
    return accuracy


if __name__ == "__main__":
    main()
