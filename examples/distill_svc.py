"""Replace a fitted RBF ``SVC`` by a KerasSVC: retrain, or distil.

An RBF ``SVC`` cannot be converted exactly into a Keras model (or into any
model with a weight vector): its decision function is a sum of kernels over
its support vectors, ``sum_j alpha_j y_j exp(-gamma ||x - s_j||^2) + b``, and
random Fourier features only approximate the kernel. Two honest replacements:

* retrain: fit ``KerasSVC`` with the SVC's ``C`` and ``gamma`` on the data;
* distil: when the training data is gone or the SVC is the reference, fit
  ``KerasSVC`` to the SVC's own predictions on any unlabelled inputs.

Either one is then a Keras model through ``to_keras()``. This script prints,
for both, the test accuracy and how often they agree with the SVC.

    python examples/distill_svc.py             # digits, bundled with scikit-learn
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from kernelsvm_keras import KerasSVC  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--C", type=float, default=10.0)
    parser.add_argument("--n-components", type=int, default=2048)
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    # Half the training rows stand for labelled data, the other half for unlabelled
    # inputs that only the SVC has seen.
    X_labelled, X_unlabelled, y_labelled, _ = train_test_split(
        X_train, y_train, test_size=0.5, random_state=0
    )
    svc = SVC(C=args.C, gamma="scale").fit(X_labelled, y_labelled)
    gamma = 1.0 / (X_labelled.shape[1] * X_labelled.var())  # what gamma="scale" resolved to

    retrained = KerasSVC(C=args.C, gamma=gamma, n_components=args.n_components, random_state=0).fit(
        X_labelled, y_labelled
    )
    inputs = np.vstack([X_labelled, X_unlabelled])
    distilled = KerasSVC(C=args.C, gamma=gamma, n_components=args.n_components, random_state=0).fit(
        inputs, svc.predict(inputs)
    )

    reference = svc.predict(X_test)
    results = {"SVC": svc, "KerasSVC retrained": retrained, "KerasSVC distilled": distilled}
    for name, model in results.items():
        predicted = model.predict(X_test)
        print(
            f"{name:20s} test_accuracy={np.mean(predicted == y_test):.4f} "
            f"agreement_with_SVC={np.mean(predicted == reference):.4f}"
        )
    keras_model = distilled.to_keras()  # the replacement, as a Keras model
    agreement = np.mean(
        np.argmax(keras_model.predict(X_test, verbose=0), axis=1)
        == np.searchsorted(distilled.classes_, reference)
    )
    print(
        f"Keras model of the distilled SVC agrees with the SVC on {agreement:.4f} of the test set"
    )
    return results


if __name__ == "__main__":
    main()
