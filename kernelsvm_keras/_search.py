"""KerasSVCCV, KerasLinearSVCCV and KerasSVRCV: a grid search run as one program.

Under ``GridSearchCV`` every candidate draws and computes its random features
and trains from zero. Here the features of a fold are computed once per
feature map (``gamma``, ``n_components``) and shared by every ``C``, the ``C``
values are solved in increasing order, each starting from the previous
solution (a warm-started regularisation path) and from the solver's knowledge
of the fold (how hard its Newton systems are, the Gram matrices of the rows
in the loss's curved zone, which change little from one ``C`` to the next);
a fold whose feature map is the previous fold's starts from that fold's
solution at the smallest ``C``. The validation rows are featurised once and
scored for every ``C``.
"""

import copy
import time
from collections import defaultdict
from numbers import Integral, Real

import numpy as np
from scipy.stats import rankdata
from sklearn.base import _fit_context, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import draw_groups
from ._classes import KerasLinearSVC, KerasSVC
from ._regression import KerasLinearSVR, KerasSVR

_SEARCH_CONSTRAINTS = {
    "Cs": ["array-like"],
    "cv": ["cv_object"],
    "scoring": [StrOptions(set(get_scorer_names())), callable, None],
    "refit": ["boolean"],
}

_SEARCH_PARAMETERS_DOC = """
    cv : int, cross-validation generator or iterable, default=5
        As in :class:`~sklearn.model_selection.GridSearchCV`: an integer is the
        number of stratified folds.
    scoring : str, callable or None, default=None
        One scorer, as in ``GridSearchCV``; ``None`` is the accuracy.
    refit : bool, default=True
        Refit the best candidate on the whole data, after which the estimator
        predicts like the fitted single estimator.

    With ``verbose=1`` the search prints a line per solve (fold, candidate,
    iterations, gap, score) and the best candidate; ``verbose=2`` adds each
    solve's and the refit's iterations, as a single fit prints them at 1.
"""

_SEARCH_ATTRIBUTES_DOC = """
    cv_results_ : dict of ndarrays
        In ``GridSearchCV``'s format: ``params``, ``param_<name>``,
        ``split<k>_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, ``mean_fit_time``, ``std_fit_time``,
        ``mean_score_time``, ``std_score_time``. Candidates are in the order
        of ``ParameterGrid`` on the same grid, so ties resolve as in
        ``GridSearchCV``. Fit times share the feature computation of a fold
        equally among the candidates that use it.
    best_index_ : int
        Index of the best candidate in ``cv_results_``.
    best_params_ : dict
        Parameters of the best candidate.
    best_score_ : float
        Its mean cross-validated score.
    n_splits_ : int
        Number of folds.
    refit_time_ : float
        Seconds spent refitting the best candidate (0 when ``refit=False``).
    C_ : float
        The best ``C``.
"""


class _SearchMixin:
    """Cross-validated search over ``C`` and the feature maps of a KerasSVM."""

    @property
    def partial_fit(self):
        # hasattr(search, "partial_fit") is False: a search needs all the data
        raise AttributeError(
            f"{type(self).__name__} has no partial_fit: cross-validation needs the whole "
            "data. Search on a sample, then call partial_fit on the best estimator "
            f"({self._single_estimator_class().__name__}(**best_params_))."
        )

    def _grid(self):
        """The grid as GridSearchCV would be given it."""
        raise NotImplementedError

    def _problem_params(self):
        """The grid's parameters that change the problem but not the features (dicts)."""
        return [{}]

    def _search_data(self, X, y, sample_weight):
        """Checked ``X`` and ``y``, the classes (or ``None``), the targets and the weights."""
        X, y, classes, targets, weights, _ = self._validate_training_data(X, y, sample_weight)
        return X, y, classes, targets, weights

    def _view(self, classes, coef, intercept):
        """A fitted linear estimator on precomputed features, for the scorer."""
        return _linear_view(
            KerasLinearSVC(),
            coef,
            intercept,
            classes_=classes,
            _problems=getattr(self, "_problems", "ovr"),
        )

    def _feature_maps(self):
        """The feature-map parameters of the grid: dicts of the non-C parameters."""
        raise NotImplementedError

    def _fold_map(self, X, params, repeats=None):
        """The feature map of ``params`` (non-C parameters), fitted on training rows ``X``.

        Every fold draws from a fresh copy of ``random_state``, as a clone
        under ``GridSearchCV`` would. ``X`` holds merged rows where
        ``repeats`` is given (:meth:`_merged`; ``params`` then as it returns
        them).
        """
        feature_map = self._map_for(X.shape[0], **params)
        return feature_map.fit(
            X,
            _fresh_random_state(self.random_state),
            keep_fit_rows=True,
            **draw_groups(feature_map, repeats),
        )

    @staticmethod
    def _single_estimator_class():
        """The estimator class searched over."""
        raise NotImplementedError

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Cross-validate every candidate of the grid, then refit the best.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the training rows (multiplying ``C``); validation
            scores are unweighted, as in ``GridSearchCV``.
        groups : array-like of shape (n_samples,), default=None
            Group labels for group-aware ``cv`` splitters.

        Returns
        -------
        self : object
            If ``fit`` raises, the estimator is left exactly as it was.
        """
        return self._all_or_nothing(self._search, X, y, sample_weight, groups)

    def _search(self, X, y, sample_weight, groups):
        Cs = np.asarray(self.Cs, dtype=np.float64)
        if Cs.ndim != 1 or Cs.size == 0 or not np.all(Cs > 0) or not np.all(np.isfinite(Cs)):
            raise InvalidParameterError(
                f"The 'Cs' parameter of {type(self).__name__} must be a non-empty list of "
                f"positive finite numbers, got {self.Cs!r}."
            )
        X, y, classes, targets, weights = self._search_data(X, y, sample_weight)
        labels = y if classes is None else np.searchsorted(classes, y)  # (for merged repeats)
        for name in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
            if name not in ("n_features_in_", "feature_names_in_"):
                delattr(self, name)  # a refit=False search must not keep an old model
        classifier = is_classifier(self)
        splits = list(check_cv(self.cv, y, classifier=classifier).split(X, y, groups))
        scorer = check_scoring(self._view(classes, None, None), scoring=self.scoring)
        candidates = list(ParameterGrid(self._grid()))
        rows = defaultdict(list)  # duplicated grid values give several rows per key
        for i, params in enumerate(candidates):
            rows[_key(params)].append(i)
        scores = np.zeros((len(candidates), len(splits)))
        fit_times = np.zeros_like(scores)
        score_times = np.zeros_like(scores)
        path = sorted(set(Cs.tolist()))
        problems = self._problem_params()  # the non-map, non-C parameters (epsilon)
        report = self._report()
        maps = list(self._feature_maps())
        n_solves = len(maps) * len(splits) * len(problems) * len(path)
        report.line(
            f"{len(candidates)} candidates x {len(splits)} folds: {n_solves} solves "
            f"({len(maps)} feature maps per fold, a path of {len(path)} C values)"
        )
        solved = 0

        for map_params in maps:
            previous = {}  # per problem: (arrays, result at the smallest C) of the previous fold
            for k, (train, test) in enumerate(splits):
                start = time.perf_counter()
                X_train, X_test = X[train], X[test]
                if getattr(self, "kernel", None) == "precomputed":
                    # a kernel matrix: the fold's rows against its training rows
                    X_train, X_test = X_train[:, train], X_test[:, train]
                # the fold's repeated rows solved once, as a fit on its rows would
                repeats, X_train, fold_targets, fold_weights, fold_params = self._merged(
                    X_train, targets[train], weights[train], labels[train], map_params
                )
                feature_map = self._fold_map(X_train, fold_params, repeats)
                arrays = feature_map.arrays()
                # featurised as the training rows are: in NumPy where the dual may take them
                host = self._host_features(X_train, feature_map)
                form = None if host else feature_map.training_form()
                design = self._fit_design(X_train, feature_map, form=form, published=False)
                shared_fit = (time.perf_counter() - start) / len(path) / len(problems)
                start = time.perf_counter()
                features_test = X_test
                if host:
                    features_test = feature_map.features(X_test)
                elif form[0] is not None:
                    features_test = self._design(features_test, feature_map, form=form).numpy()
                shared_score = (time.perf_counter() - start) / len(path) / len(problems)
                for problem in problems:
                    coef = intercept = cg_iter = None
                    before = previous.get(_key(problem))
                    if before is not None and _same_arrays(before[0], arrays):
                        # the same features (random ones drawn alike on every fold, or
                        # the identity): start from the previous fold's solution
                        coef, intercept, cg_iter = before[1]
                    for C in path:
                        start = time.perf_counter()
                        result = self._solve(
                            design,
                            fold_targets,
                            fold_weights,
                            C,
                            coef,
                            intercept,
                            cg_iter,
                            problem=problem,
                            report=report.inner(),
                        )
                        coef, intercept, cg_iter = result.coef, result.intercept, result.cg_iter
                        if C == path[0]:
                            previous[_key(problem)] = arrays, (coef, intercept, cg_iter)
                        fit_time = time.perf_counter() - start + shared_fit
                        start = time.perf_counter()
                        view = self._view(classes, coef, intercept)
                        score = scorer(view, features_test, y[test])
                        score_time = time.perf_counter() - start + shared_score
                        solved += 1
                        report.line(
                            f"solve {solved}/{n_solves}, fold {k + 1}/{len(splits)}: "
                            f"{_describe({'C': C, **map_params, **problem})}, "
                            f"{result.n_iter} iterations, gap {result.gap.max():.1e}, "
                            f"score {score:.4f}"
                        )
                        for i in rows[_key({"C": C, **map_params, **problem})]:
                            scores[i, k] = score
                            fit_times[i, k] = fit_time
                            score_times[i, k] = score_time

        self.cv_results_ = _cv_results(candidates, scores, fit_times, score_times)
        self.n_splits_ = len(splits)
        self.best_index_ = int(np.argmin(self.cv_results_["rank_test_score"]))
        self.best_params_ = dict(candidates[self.best_index_])
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        self.C_ = float(self.best_params_["C"])
        self.refit_time_ = 0.0
        report.line(
            f"best: {_describe(self.best_params_)}, mean score {self.best_score_:.4f}"
            + ("; refit on all rows" if self.refit else "")
        )
        if self.refit:
            start = time.perf_counter()
            best = self._single_estimator(self.best_params_)
            best.set_params(verbose=max(0, int(self.verbose) - 1))  # as the solves were
            best.fit(X, y, sample_weight)
            self.refit_time_ = time.perf_counter() - start
            for name, value in vars(best).items():
                if name.endswith("_") and name not in ("n_features_in_", "feature_names_in_"):
                    setattr(self, name, value)
            self._map = best._map
        return self

    def _single_estimator(self, params):
        """The estimator that ``GridSearchCV`` would fit for the candidate ``params``."""
        single = self._single_estimator_class()
        shared = {
            name: value
            for name, value in self.get_params(deep=False).items()
            if name in single._parameter_constraints
        }
        return single(**{**shared, **params})

    def _problem_scores(self, X):
        self._check_refitted()
        return super()._problem_scores(X)

    def _keras_outputs(self, inputs, dtype):
        self._check_refitted()
        return super()._keras_outputs(inputs, dtype)

    def _check_refitted(self):
        check_is_fitted(self)
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                f"This {type(self).__name__} was fitted with refit=False: it holds "
                "cv_results_ and best_params_ but no model; refit=True fits one."
            )


class _KernelGrid:
    """The feature maps of a kernel search: ``gammas`` times ``n_components``."""

    def _gammas(self):
        gammas = list(self.gammas) if not isinstance(self.gammas, str) else [self.gammas]
        for gamma in gammas:
            valid = gamma in ("scale", "auto") or (
                isinstance(gamma, Real) and not isinstance(gamma, bool) and gamma > 0
            )
            if not valid:
                raise InvalidParameterError(
                    f"The 'gammas' parameter of {type(self).__name__} must hold 'scale', "
                    f"'auto' or positive numbers, got {gamma!r}."
                )
        if not gammas:
            raise InvalidParameterError(
                f"The 'gammas' parameter of {type(self).__name__} must not be empty."
            )
        return gammas

    def _sizes(self):
        sizes = np.atleast_1d(np.asarray(self.n_components))
        if sizes.size == 0 or sizes.dtype.kind not in "iu" or np.any(sizes < 1):
            raise InvalidParameterError(
                f"The 'n_components' parameter of {type(self).__name__} must be a positive "
                f"int or a list of them, got {self.n_components!r}."
            )
        return [int(size) for size in sizes]

    def _feature_maps(self):
        return [
            {"gamma": gamma, "n_components": size}
            for gamma in dict.fromkeys(self._gammas())
            for size in dict.fromkeys(self._sizes())
        ]


def _same_arrays(first, second):
    return len(first) == len(second) and all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, second, strict=True)
    )


def _key(params):
    return tuple(sorted(params.items()))


def _linear_view(view, coef, intercept, **fitted):
    """``view``, an unfitted linear estimator, holding a model on precomputed features.

    What the scorers call: ``coef`` and ``intercept`` in the solver's shapes
    ((K, width), (K,)), ``fitted`` further attributes (a classifier's
    ``classes_`` and ``_problems``, ``"ovr"`` or ``"ovo"``: how the columns
    split the classes). Without ``coef``, ``view`` unfitted, for
    ``check_scoring``.
    """
    if coef is None:
        return view
    return view._hold_linear_model(coef, intercept, **fitted)


def _describe(params):
    """``"C=1, gamma=0.1"``: a candidate's parameters, in the grid's order."""
    return ", ".join(
        f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value!r}"
        for name, value in params.items()
    )


def _cv_results(candidates, scores, fit_times, score_times):
    results = {
        "mean_fit_time": fit_times.mean(axis=1),
        "std_fit_time": fit_times.std(axis=1),
        "mean_score_time": score_times.mean(axis=1),
        "std_score_time": score_times.std(axis=1),
    }
    for name in sorted(candidates[0]):
        values = np.empty(len(candidates), dtype=object)
        values[:] = [params[name] for params in candidates]
        results[f"param_{name}"] = np.ma.MaskedArray(values, mask=False)
    results["params"] = candidates
    for k in range(scores.shape[1]):
        results[f"split{k}_test_score"] = scores[:, k]
    means = scores.mean(axis=1)
    results["mean_test_score"] = means
    results["std_test_score"] = scores.std(axis=1)
    results["rank_test_score"] = rankdata(-np.round(means, 12), method="min").astype(np.int32)
    return results


def _fresh_random_state(random_state):
    """The random state a clone of the estimator would start from, for every draw."""
    if isinstance(random_state, np.random.RandomState):
        return copy.deepcopy(random_state)
    return check_random_state(random_state)


class KerasSVCCV(_KernelGrid, _SearchMixin, KerasSVC):
    """KerasSVC with a built-in cross-validated grid search over C, gamma and n_components.

    Gives the result of ``GridSearchCV(KerasSVC(...), {"C": Cs, "gamma":
    gammas, "n_components": n_components}, cv=cv)`` in a fraction of its time:
    the features of every fold are computed once per (``gamma``,
    ``n_components``) and shared by all ``C``, and the ``C`` values are solved
    as a warm-started path, smallest first, each from the previous solution.
    After ``fit`` (with ``refit=True``) it is a fitted ``KerasSVC`` with the
    best parameters.

    One difference, where ``approximation="auto"`` draws fewer landmarks than
    a fold has rows: a fold keeps its drawn landmarks for every ``C``,
    where ``KerasSVC``'s fit in ``GridSearchCV`` may move them onto its
    support vectors (see :class:`KerasSVC`'s Notes); a fold's score can then
    differ by a few thousandths (900 digits, 400 landmarks, 3 folds: at most
    0.01 per fold, 0.003 in the mean). The refit of the best candidate moves
    them as ``KerasSVC`` does.

    Parameters
    ----------
    Cs : array-like of float, default=(0.1, 1.0, 10.0, 100.0)
        Values of ``C`` to try.
    gammas : array-like of {"scale", "auto"} or float, default=("scale",)
        Values of ``gamma`` to try, resolved on each training fold as
        ``KerasSVC`` resolves them.
    n_components : int or array-like of int, default=2048
        Number(s) of landmarks or random features to try.
    """

    __doc__ += (
        _SEARCH_PARAMETERS_DOC
        + """
    kernel, degree, coef0, approximation, loss, class_weight, tol, max_iter, batch_size, \
cache_size, decision_function_shape, break_ties, multi_class, verbose, random_state
        As in :class:`KerasSVC`, for every candidate. With an integer
        ``random_state`` every candidate draws the features that
        ``KerasSVC(random_state=random_state)`` would draw.

    Attributes
    ----------"""
        + _SEARCH_ATTRIBUTES_DOC
        + """
    gamma_ : float
        The best ``gamma``, resolved on the whole data (after refit).
    classes_, coef_, intercept_, random_weights_, random_offset_, components_, \
component_indices_, normalization_, n_iter_, objective_, dual_gap_
        Those of the refitted ``KerasSVC`` (``refit=True`` only).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    KerasSVC : The estimator tuned.
    sklearn.model_selection.GridSearchCV : The general search it agrees with.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from kernelsvm_keras import KerasSVCCV
    >>> X, y = load_digits(return_X_y=True)
    >>> search = KerasSVCCV(Cs=[1, 10, 100], gammas=[0.02, 0.05], n_components=512, cv=3,
    ...                     random_state=0).fit(X / 16, y)
    >>> search.best_params_["gamma"], len(search.cv_results_["params"])
    (0.05, 6)
    >>> print(f"{search.best_score_:.2f}")
    0.96
    """
    )

    _parameter_constraints: dict = {
        **{k: v for k, v in KerasSVC._parameter_constraints.items() if k != "C"},
        **_SEARCH_CONSTRAINTS,
        "gammas": ["array-like"],
        "n_components": [Interval(Integral, 1, None, closed="left"), "array-like"],
    }
    for _name in ("gamma", "shrinking", "probability", "warm_start"):
        _parameter_constraints.pop(_name)
    del _name

    def __init__(
        self,
        *,
        Cs=(0.1, 1.0, 10.0, 100.0),
        gammas=("scale",),
        n_components=2048,
        cv=5,
        scoring=None,
        refit=True,
        kernel="rbf",
        degree=3,
        coef0=0.0,
        approximation="auto",
        loss="auto",
        class_weight=None,
        tol=1e-3,
        max_iter=1000,
        batch_size=None,
        cache_size=1024,
        decision_function_shape="ovr",
        break_ties=False,
        multi_class="auto",
        verbose=0,
        random_state=None,
    ):
        self.Cs = Cs
        self.gammas = gammas
        self.n_components = n_components
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.kernel = kernel
        self.degree = degree
        self.coef0 = coef0
        self.decision_function_shape = decision_function_shape
        self.break_ties = break_ties
        self.multi_class = multi_class
        self.approximation = approximation
        self.loss = loss
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.verbose = verbose
        self.random_state = random_state

    def _grid(self):
        return {"C": list(self.Cs), "gamma": self._gammas(), "n_components": self._sizes()}

    @staticmethod
    def _single_estimator_class():
        return KerasSVC


class KerasLinearSVCCV(_SearchMixin, KerasLinearSVC):
    """KerasLinearSVC with a built-in cross-validated search over C.

    Gives the result of ``GridSearchCV(KerasLinearSVC(...), {"C": Cs}, cv=cv)``
    faster: the ``C`` values are solved as a warm-started path, smallest
    first, on each fold. After ``fit`` (with ``refit=True``) it is a fitted
    ``KerasLinearSVC`` with the best ``C``.

    Parameters
    ----------
    Cs : array-like of float, default=(0.01, 0.1, 1.0, 10.0, 100.0)
        Values of ``C`` to try.
    """

    __doc__ += (
        _SEARCH_PARAMETERS_DOC
        + """
    loss, fit_intercept, class_weight, tol, max_iter, batch_size, cache_size, verbose, \
random_state
        As in :class:`KerasLinearSVC`, for every candidate.

    Attributes
    ----------"""
        + _SEARCH_ATTRIBUTES_DOC
        + """
    classes_, coef_, intercept_, n_iter_, objective_, dual_gap_
        Those of the refitted ``KerasLinearSVC`` (``refit=True`` only).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    KerasLinearSVC : The estimator tuned.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from kernelsvm_keras import KerasLinearSVCCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> search = make_pipeline(StandardScaler(), KerasLinearSVCCV(cv=3)).fit(X, y)
    >>> search[-1].C_ in (0.01, 0.1, 1.0, 10.0, 100.0)
    True
    """
    )

    _parameter_constraints: dict = {
        **{k: v for k, v in KerasLinearSVC._parameter_constraints.items() if k != "C"},
        **_SEARCH_CONSTRAINTS,
    }
    for _name in ("multi_class", "warm_start", "penalty", "dual", "intercept_scaling"):
        _parameter_constraints.pop(_name)
    del _name

    def __init__(
        self,
        *,
        Cs=(0.01, 0.1, 1.0, 10.0, 100.0),
        cv=5,
        scoring=None,
        refit=True,
        loss="squared_hinge",
        fit_intercept=True,
        class_weight=None,
        tol=1e-3,
        max_iter=1000,
        batch_size=None,
        cache_size=1024,
        verbose=0,
        random_state=None,
    ):
        self.Cs = Cs
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.loss = loss
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.verbose = verbose
        self.random_state = random_state

    def _grid(self):
        return {"C": list(self.Cs)}

    def _feature_maps(self):
        return [{}]

    @staticmethod
    def _single_estimator_class():
        return KerasLinearSVC


class KerasSVRCV(_KernelGrid, _SearchMixin, KerasSVR):
    """KerasSVR with a built-in cross-validated grid search over C, epsilon and gamma.

    Gives the result of ``GridSearchCV(KerasSVR(...), {"C": Cs, "epsilon":
    epsilons, "gamma": gammas, "n_components": n_components}, cv=cv)`` in a
    fraction of its time: the features of every fold are computed once per
    (``gamma``, ``n_components``) and shared by every ``C`` and ``epsilon``
    (which change the problem, not the features), and for each ``epsilon``
    the ``C`` values are solved as a warm-started path, smallest first. After
    ``fit`` (with ``refit=True``) it is a fitted ``KerasSVR`` with the best
    parameters.

    Parameters
    ----------
    Cs : array-like of float, default=(0.1, 1.0, 10.0, 100.0)
        Values of ``C`` to try.
    epsilons : array-like of float, default=(0.1,)
        Values of ``epsilon`` to try (non-negative).
    gammas : array-like of {"scale", "auto"} or float, default=("scale",)
        Values of ``gamma`` to try, resolved on each training fold.
    n_components : int or array-like of int, default=2048
        Number(s) of landmarks or random features to try.
    cv : int, cross-validation generator or iterable, default=5
        As in :class:`~sklearn.model_selection.GridSearchCV`: an integer is the
        number of (unshuffled) folds.
    scoring : str, callable or None, default=None
        One scorer, as in ``GridSearchCV``; ``None`` is R^2.
    refit : bool, default=True
        Refit the best candidate on the whole data, after which the estimator
        predicts like the fitted single estimator.
    kernel, degree, coef0, approximation, loss, tol, max_iter, batch_size, \
cache_size, verbose, random_state
        As in :class:`KerasSVR`, for every candidate.

    Attributes
    ----------"""

    __doc__ += (
        _SEARCH_ATTRIBUTES_DOC.split("    C_ : float")[0]
        + """    C_ : float
        The best ``C``.
    coef_, intercept_, gamma_, components_, component_indices_, normalization_, \
n_iter_, objective_, dual_gap_
        Those of the refitted ``KerasSVR`` (``refit=True`` only).

    See Also
    --------
    KerasSVR : The estimator tuned.
    sklearn.model_selection.GridSearchCV : The general search it agrees with.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from kernelsvm_keras import KerasSVRCV
    >>> X, y = make_friedman1(n_samples=600, noise=0.1, random_state=0)
    >>> search = KerasSVRCV(Cs=[1, 10], epsilons=[0.1, 0.5], n_components=256, cv=3,
    ...                     random_state=0).fit(X, y)
    >>> len(search.cv_results_["params"]), search.best_params_["C"]
    (4, 10)
    """
    )

    _parameter_constraints: dict = {
        **{k: v for k, v in KerasSVR._parameter_constraints.items() if k != "C"},
        **_SEARCH_CONSTRAINTS,
        "epsilons": ["array-like"],
        "gammas": ["array-like"],
        "n_components": [Interval(Integral, 1, None, closed="left"), "array-like"],
    }
    for _name in ("epsilon", "gamma", "shrinking", "warm_start"):
        _parameter_constraints.pop(_name)
    del _name

    def __init__(
        self,
        *,
        Cs=(0.1, 1.0, 10.0, 100.0),
        epsilons=(0.1,),
        gammas=("scale",),
        n_components=2048,
        cv=5,
        scoring=None,
        refit=True,
        kernel="rbf",
        degree=3,
        coef0=0.0,
        approximation="auto",
        loss="squared_epsilon_insensitive",
        tol=1e-3,
        max_iter=1000,
        batch_size=None,
        cache_size=1024,
        verbose=0,
        random_state=None,
    ):
        self.Cs = Cs
        self.epsilons = epsilons
        self.gammas = gammas
        self.n_components = n_components
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.kernel = kernel
        self.degree = degree
        self.coef0 = coef0
        self.approximation = approximation
        self.loss = loss
        self.tol = tol
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.verbose = verbose
        self.random_state = random_state

    def _grid(self):
        return {
            "C": list(self.Cs),
            "epsilon": self._epsilons(),
            "gamma": self._gammas(),
            "n_components": self._sizes(),
        }

    def _epsilons(self):
        epsilons = np.atleast_1d(np.asarray(self.epsilons, dtype=object))
        valid = epsilons.size > 0 and all(
            isinstance(e, Real) and not isinstance(e, bool) and e >= 0 for e in epsilons
        )
        if not valid:
            raise InvalidParameterError(
                f"The 'epsilons' parameter of {type(self).__name__} must be a non-empty list "
                f"of non-negative numbers, got {self.epsilons!r}."
            )
        return [float(e) for e in epsilons]

    def _problem_params(self):
        return [{"epsilon": e} for e in dict.fromkeys(self._epsilons())]

    def _search_data(self, X, y, sample_weight):
        X, y, weights = self._check_targets(X, y, sample_weight)
        return X, y, None, y[:, None], weights

    def _view(self, classes, coef, intercept):
        return _linear_view(KerasLinearSVR(), coef, intercept)

    @staticmethod
    def _single_estimator_class():
        return KerasSVR
