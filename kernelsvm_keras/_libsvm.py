"""libsvm, the solver of scikit-learn's ``SVC``, ``SVR`` and ``OneClassSVM``, on one column.

The dual route (:mod:`kernelsvm_keras._dual`) solves every column of a
problem (a binary or one-vs-one problem, a regression, the one-class SVM)
by libsvm. Through the estimators, each call pays their ``fit``'s checks
before libsvm starts (the data validated, the targets encoded, the class
weights computed): 1.8-2.7 ms a call on this project's 2-core machines,
whatever the size, where libsvm itself solves 150 rows in 0.4 ms. That was
a third of iris's fit (three columns) and 0.6 s of every round of letter's
325 one-vs-one pairs (``benchmarks/RESULTS.md``, "libsvm called
directly").

:func:`solve` therefore calls scikit-learn's own binding of libsvm,
``sklearn.svm._libsvm.fit``, the function ``SVC.fit`` calls once its checks
are done, with the arguments ``SVC`` gives it; the problems it receives are
ours, already checked. That binding is private to scikit-learn: where it is
missing or refuses the call (a later release that changed it), and for
sparse rows (the kernel route on sparse data, which ``SVC`` passes to
another binding), the estimators solve the column, with the same result
(``tests/test_dual.py`` compares the two).
"""

import numpy as np
import scipy.sparse as sp
from sklearn import config_context
from sklearn.svm import SVC, SVR, OneClassSVM

try:  # (private to scikit-learn: see the module's docstring)
    from sklearn.svm import _libsvm as _binding
except ImportError:  # pragma: no cover - a scikit-learn without it
    _binding = None

__all__ = ["solve"]

#: libsvm's problem types, as ``sklearn.svm._base.LIBSVM_IMPL`` numbers them.
_SVM_TYPES = {"classification": 0, "one_class": 2, "regression": 3}
#: ``SVC``'s default kernel cache, in MB.
_CACHE_MB = 200.0
#: Whether the binding is called (false once it refused a call, for the process).
_DIRECT = {"on": _binding is not None}


def solve(form, X, y, sample_weight, kernel, *, C, nu, epsilon, tol, max_iter, shrinking):
    """libsvm on one column: its support, dual coefficients, intercept and steps.

    Parameters
    ----------
    form : {"classification", "one_class", "regression"}
        ``SVC``, ``OneClassSVM`` or ``SVR``'s problem.
    X : ndarray or sparse matrix of shape (n, n) or (n, n_features)
        The rows' Gram matrix (``kernel["kernel"] == "precomputed"``) or
        the rows themselves. Read only.
    y : ndarray of shape (n,) or None
        Labels ``+1`` / ``-1`` (classification), targets (regression);
        ``None`` for the one-class SVM.
    sample_weight : ndarray of shape (n,)
        Each row's weight on ``C``.
    kernel : dict
        libsvm's ``kernel`` and, where it is not precomputed, ``gamma``,
        ``degree`` and ``coef0`` (numbers).
    C, nu, epsilon, tol : float
        As the estimators take them (``nu`` for the one-class SVM only,
        ``epsilon`` for regression only).
    max_iter : int
        libsvm's step limit.
    shrinking : bool

    Returns
    -------
    support : ndarray of int
        The rows with a nonzero dual coefficient.
    dual_coef : ndarray of shape (support.size,)
        Their coefficients, in the estimators' signs (``SVC``: ``y_i
        alpha_i``, positive for the label ``+1``).
    intercept : float
        The estimators' ``intercept_[0]``.
    n_iter : int
        libsvm's steps.

    Raises
    ------
    ValueError
        Where the estimators raise it: one class only, or coefficients that
        are not finite (libsvm's kernel cache is float32: a Gram matrix
        beyond its range).
    """
    args = (form, X, y, sample_weight, kernel, C, nu, epsilon, tol, max_iter, shrinking)
    if _DIRECT["on"] and not sp.issparse(X):
        try:
            return _direct(*args)
        except TypeError:  # the binding's arguments changed: the estimators from now on
            _DIRECT["on"] = False
    return _estimated(*args)


def _direct(form, X, y, sample_weight, kernel, C, nu, epsilon, tol, max_iter, shrinking):
    """:func:`solve` by ``sklearn.svm._libsvm.fit``, as ``SVC.fit`` calls it (``_dense_fit``)."""
    n = X.shape[0]
    if form == "classification":
        positive = y > 0
        if positive.all() or not positive.any():
            raise ValueError("The number of classes has to be greater than one; got 1 class")
        # SVC's encoding: the sorted labels' indices, -1 -> 0 and +1 -> 1
        targets = positive.astype(np.float64)
    elif form == "one_class":
        targets = np.ones(n)
    else:
        targets = np.ascontiguousarray(y, dtype=np.float64)
    _binding.set_verbosity_wrap(0)
    support, _, _, dual_coef, intercept, _, _, _, n_iter = _binding.fit(
        np.ascontiguousarray(X, dtype=np.float64),
        targets,
        svm_type=_SVM_TYPES[form],
        sample_weight=np.ascontiguousarray(sample_weight, dtype=np.float64),
        class_weight=np.empty(0),
        kernel=kernel["kernel"],
        C=float(C),
        nu=float(nu),
        probability=False,
        degree=int(kernel.get("degree", 3)),
        shrinking=bool(shrinking),
        tol=float(tol),
        cache_size=_CACHE_MB,
        coef0=float(kernel.get("coef0", 0.0)),
        gamma=float(kernel.get("gamma", 0.0)),
        epsilon=float(epsilon),
        max_iter=int(max_iter),
        random_seed=0,  # (libsvm draws only for probability estimates)
    )
    dual_coef, intercept = dual_coef[0], float(intercept[0])
    if form == "classification":  # SVC flips a binary problem's signs
        dual_coef, intercept = -dual_coef, -intercept
    if not (np.isfinite(intercept) and np.all(np.isfinite(dual_coef))):
        raise ValueError("The dual coefficients or intercepts are not finite.")
    return support, dual_coef, intercept, int(np.max(n_iter))


def _estimated(form, X, y, sample_weight, kernel, C, nu, epsilon, tol, max_iter, shrinking):
    """:func:`solve` by the estimator, without its warning at the step limit."""
    params = {"tol": tol, "max_iter": int(max_iter), "shrinking": shrinking, **kernel}
    if form == "classification":
        estimator = _QuietSVC(C=C, **params)
    elif form == "one_class":
        estimator, y = _QuietOneClassSVM(nu=nu, **params), None
    else:
        estimator = _QuietSVR(C=C, epsilon=epsilon, **params)
    # (scikit-learn's config is per thread; our own arguments need no check)
    with config_context(assume_finite=True, skip_parameter_validation=True):
        estimator.fit(X, y, sample_weight=sample_weight)
    dual_coef = estimator.dual_coef_  # (sparse where the rows were)
    dual_coef = (dual_coef.toarray() if sp.issparse(dual_coef) else dual_coef)[0]
    intercept = float(estimator.intercept_[0])
    return estimator.support_, dual_coef, intercept, int(np.max(estimator.n_iter_))


class _QuietSVC(SVC):
    """``SVC`` without the warning at its step limit: that limit is ours to report.

    The certificate judges the point. (``warnings.catch_warnings`` would do
    the same, but it changes the filters of every thread, and the columns
    run on several.)
    """

    def _warn_from_fit_status(self):
        pass


class _QuietSVR(SVR):
    """``SVR`` without the warning at its step limit (see :class:`_QuietSVC`)."""

    def _warn_from_fit_status(self):
        pass


class _QuietOneClassSVM(OneClassSVM):
    """``OneClassSVM`` without the warning at its step limit (see :class:`_QuietSVC`)."""

    def _warn_from_fit_status(self):
        pass
