"""Code written for scikit-learn's SVMs meets the same outcome on ours.

Every case runs on the scikit-learn estimator and on ours: both succeed, or
both raise, ours an exception of scikit-learn's class (or a subclass:
``InvalidParameterError`` is a ``ValueError``). The README's tables list what
ours does differently on purpose (``penalty="l1"``, sparse ``predict`` after a
dense ``fit``, ...); those cases are not here.
"""

import inspect
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR, OneClassSVM
from sklearn.utils.validation import _check_sample_weight

from kernelsvm_keras import (
    KerasLinearSVC,
    KerasLinearSVR,
    KerasOneClassSVM,
    KerasSVC,
    KerasSVR,
)

X, LABELS = load_iris(return_X_y=True)
X_NAN = np.where(X > 7, np.nan, X)
X_INF = np.where(X > 7, np.inf, X)
TARGETS = {"classifier": LABELS, "regressor": X[:, 0], "one-class": None}

PAIRS = [
    (SVC, KerasSVC, "classifier"),
    (LinearSVC, KerasLinearSVC, "classifier"),
    (SVR, KerasSVR, "regressor"),
    (LinearSVR, KerasLinearSVR, "regressor"),
    (OneClassSVM, KerasOneClassSVM, "one-class"),
]


def _fit(Estimator, kind, X=X, y=None, **fit_params):
    y = TARGETS[kind] if y is None else y
    return (
        Estimator().fit(X, **fit_params)
        if kind == "one-class"
        else Estimator().fit(X, y, **fit_params)
    )


class _NotAParameter(Exception):
    """The estimator has no such parameter: scikit-learn's has none, the case is not one."""


def _with(Estimator, kind, **params):
    """A fit with ``params`` (:class:`_NotAParameter` where the estimator has none of them)."""
    if not set(params) <= set(Estimator().get_params()):
        raise _NotAParameter
    model = Estimator(**params)
    return model.fit(X) if kind == "one-class" else model.fit(X, TARGETS[kind])


# (name, kinds it applies to, the call on an estimator class and its kind)
CASES = [
    ("C=0", None, lambda E, k: _with(E, k, C=0)),
    ("C=-1", None, lambda E, k: _with(E, k, C=-1.0)),
    ("C=inf", None, lambda E, k: _with(E, k, C=np.inf)),
    ("tol=0", None, lambda E, k: _with(E, k, tol=0)),
    ("max_iter=0", None, lambda E, k: _with(E, k, max_iter=0)),
    ("max_iter=-2", None, lambda E, k: _with(E, k, max_iter=-2)),
    ("gamma=-1", None, lambda E, k: _with(E, k, gamma=-1)),
    ("gamma='fast'", None, lambda E, k: _with(E, k, gamma="fast")),
    ("kernel='cubic'", None, lambda E, k: _with(E, k, kernel="cubic")),
    ("degree=-1", None, lambda E, k: _with(E, k, kernel="poly", degree=-1)),
    ("degree=2.5", None, lambda E, k: _with(E, k, kernel="poly", degree=2.5)),
    ("epsilon=-1 (SVR)", {"regressor"}, lambda E, k: _with(E, k, epsilon=-1.0, kernel="rbf")),
    ("nu=0", None, lambda E, k: _with(E, k, nu=0)),
    ("nu=1.5", None, lambda E, k: _with(E, k, nu=1.5)),
    ("loss='log'", None, lambda E, k: _with(E, k, loss="log")),
    ("intercept_scaling=0", None, lambda E, k: _with(E, k, intercept_scaling=0)),
    ("class_weight='heavy'", None, lambda E, k: _with(E, k, class_weight="heavy")),
    ("class_weight of an absent class", None, lambda E, k: _with(E, k, class_weight={5: 2.0})),
    (
        "decision_function_shape='ovx'",
        None,
        lambda E, k: _with(E, k, decision_function_shape="ovx"),
    ),
    ("NaN in X", None, lambda E, k: _fit(E, k, X=X_NAN)),
    ("inf in X", None, lambda E, k: _fit(E, k, X=X_INF)),
    ("no rows", None, lambda E, k: _fit(E, k, X=X[:0], y=np.zeros(0))),
    ("complex X", None, lambda E, k: _fit(E, k, X=X + 1j)),
    ("strings in X", None, lambda E, k: _fit(E, k, X=np.full((150, 4), "a", dtype=object))),
    ("2-d y", {"classifier", "regressor"}, lambda E, k: _fit(E, k, y=np.c_[LABELS, LABELS])),
    ("NaN in y", {"regressor"}, lambda E, k: _fit(E, k, y=np.where(X[:, 0] > 7, np.nan, X[:, 0]))),
    ("continuous labels", {"classifier"}, lambda E, k: _fit(E, k, y=LABELS + 0.5)),
    ("one class", {"classifier"}, lambda E, k: _fit(E, k, y=np.zeros(150))),
    ("string labels", {"classifier"}, lambda E, k: _fit(E, k, y=np.array(["a", "b", "c"])[LABELS])),
    (
        "lists",
        None,
        lambda E, k: _fit(
            E,
            k,
            X=X.tolist(),
            y=np.asarray(TARGETS[k] if TARGETS[k] is not None else LABELS).tolist(),
        ),
    ),
    ("COO rows", None, lambda E, k: _fit(E, k, X=sp.coo_matrix(X))),
    ("CSC rows", None, lambda E, k: _fit(E, k, X=sp.csc_matrix(X))),
    ("integer rows", None, lambda E, k: _fit(E, k, X=X.astype(int))),
    ("float32 rows", None, lambda E, k: _fit(E, k, X=X.astype(np.float32))),
    ("weights of another length", None, lambda E, k: _fit(E, k, sample_weight=np.ones(3))),
    ("zero weights", None, lambda E, k: _fit(E, k, sample_weight=np.zeros(150))),
    ("predict before fit", None, lambda E, k: E().predict(X)),
    ("predict on other features", None, lambda E, k: _fit(E, k).predict(X[:, :2])),
    ("predict on NaN", None, lambda E, k: _fit(E, k).predict(X_NAN)),
]


# scikit-learn 1.9's check of sample weights refuses all-zero weights (this option
# lets an estimator take them); its estimators fitted them before, LinearSVR among them
_ALL_ZERO_WEIGHTS_REFUSED = (
    "allow_all_zero_weights" in inspect.signature(_check_sample_weight).parameters
)


def _outcome(call):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as exc:  # (the outcome compared: the exception itself)
        return exc
    return None


@pytest.mark.parametrize("Theirs, Ours, kind", PAIRS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("name, kinds, call", CASES, ids=[case[0] for case in CASES])
def test_the_same_outcome_as_scikit_learn(Theirs, Ours, kind, name, kinds, call):
    if kinds is not None and kind not in kinds:
        pytest.skip(f"{name}: not a case for a {kind}")
    theirs = _outcome(lambda: call(Theirs, kind))
    if isinstance(theirs, _NotAParameter):
        pytest.skip(f"{Theirs.__name__} has no such parameter")
    ours = _outcome(lambda: call(Ours, kind))
    if name == "zero weights" and theirs is None and not _ALL_ZERO_WEIGHTS_REFUSED:
        # scikit-learn refuses them from 1.9 on; LinearSVR fitted them before: ours refuse
        assert isinstance(ours, ValueError) and "zero or negative weights" in str(ours)
        return
    if theirs is None:
        assert ours is None, f"{Theirs.__name__} takes it; {Ours.__name__} raised {ours!r}"
    else:
        assert isinstance(ours, type(theirs)), (
            f"{Theirs.__name__} raised {theirs!r}; {Ours.__name__} gave {ours!r}"
        )
