"""scikit-learn's own estimator checks, on every estimator."""

import keras
import pytest
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from kernelsvm_keras import (
    KerasLinearSVC,
    KerasLinearSVCCV,
    KerasLinearSVR,
    KerasOneClassSVM,
    KerasSVC,
    KerasSVCCV,
    KerasSVR,
    KerasSVRCV,
)

# The only expected failures: the checks that scikit-learn itself expects to
# fail for LinearSVC and SGDClassifier (and for SVR, LinearSVR, OneClassSVM,
# SGDRegressor and SGDOneClassSVM, the models of the regressors and the
# one-class SVM here). They compare a weighted fit with a fit
# on repeated rows to rtol=1e-7, but the solver stops at a certified relative
# duality gap of `tol` (1e-3 by default), not at machine precision; and
# gamma="scale" is computed from the variance of X, which repeating rows
# changes, exactly as in SVC. Equivalence up to `tol` is tested in
# tests/test_base.py::test_sample_weight_equals_repetition.
SAMPLE_WEIGHT_EQUIVALENCE = {
    check: "sample_weight equals repetition up to the solver's tol, not to rtol=1e-7"
    for check in (
        "check_sample_weight_equivalence_on_dense_data",
        "check_sample_weight_equivalence_on_sparse_data",
    )
}


class QuadraticKernel:
    """A kernel given as a callable, as ``SVC(kernel=callable)`` takes one.

    (A class for its ``repr``: a function's holds its address, which differs
    between the test workers that collect the checks.)
    """

    def __call__(self, A, B):
        return (A @ B.T + 1.0) ** 2

    def __repr__(self):
        return "QuadraticKernel()"


ESTIMATORS = [
    KerasSVC(n_components=64, random_state=0),
    KerasSVC(
        n_components=128,
        loss="hinge",
        kernel="laplacian",
        approximation="random_fourier",
        random_state=0,
    ),
    KerasSVC(n_components=256, approximation="random_fourier", random_state=0),
    KerasLinearSVC(),
    KerasLinearSVC(loss="hinge"),
    KerasSVCCV(Cs=(0.1, 1.0), gammas=("scale", 0.5), n_components=64, cv=3, random_state=0),
    KerasLinearSVCCV(Cs=(0.1, 1.0), cv=3),
    KerasSVR(n_components=64, random_state=0),
    KerasOneClassSVM(n_components=64, random_state=0),
]
if keras.backend.backend() == "tensorflow":
    # Every other kernel, one-vs-one and the other losses: the same keras.ops
    # code on every backend, so checked once, on the default backend (CI's
    # first stage).
    ESTIMATORS += [
        KerasSVC(kernel="linear", random_state=0),
        KerasSVC(kernel="poly", n_components=32, random_state=0),
        KerasSVC(kernel="sigmoid", n_components=32, random_state=0),
        KerasSVC(kernel="laplacian", n_components=32, random_state=0),
        KerasSVC(kernel="precomputed", n_components=32, random_state=0),
        KerasSVC(kernel=QuadraticKernel(), n_components=32, random_state=0),
        KerasSVC(multi_class="ovo", n_components=32, random_state=0),
        KerasSVR(n_components=64, loss="epsilon_insensitive", random_state=0),
        KerasLinearSVR(),
        KerasSVR(kernel="linear"),
        KerasSVR(kernel="precomputed", n_components=32, random_state=0),
        KerasLinearSVR(loss="squared_epsilon_insensitive"),
        KerasOneClassSVM(kernel="linear"),
        KerasSVRCV(Cs=(0.1, 1.0), epsilons=(0.1, 0.5), n_components=32, cv=3, random_state=0),
    ]


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=lambda estimator: SAMPLE_WEIGHT_EQUIVALENCE
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# The searches at their defaults (5 folds x 4-5 Cs per fit: the slowest checks
# of the suite) and the regressors and one-class SVM on the default backend
# only; on the others they are checked with a small grid (or width) above.
DEFAULTS = [KerasSVC, KerasLinearSVC]
if keras.backend.backend() == "tensorflow":
    DEFAULTS += [KerasSVCCV, KerasLinearSVCCV, KerasSVR, KerasLinearSVR, KerasOneClassSVM]


# (scikit-learn's check fits 9 rows, 3 per class: fewer than the default cv=5
# folds; KerasLinearSVCCV(cv=3) above passes it)
FEW_ROWS_FOR_FIVE_FOLDS = {
    "check_sparsify_coefficients": "9 rows, 3 per class, cannot be split into cv=5 folds"
}


@pytest.mark.parametrize("Estimator", DEFAULTS)
def test_check_estimator_default_parameters(Estimator):
    expected = dict(SAMPLE_WEIGHT_EQUIVALENCE)
    if Estimator is KerasLinearSVCCV:
        expected.update(FEW_ROWS_FOR_FIVE_FOLDS)
    check_estimator(Estimator(), expected_failed_checks=expected)
