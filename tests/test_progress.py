"""What ``verbose`` prints: phases, iterations against tol, a closing summary; nothing at 0."""

import re

import numpy as np
import pytest
from sklearn.datasets import load_digits

from kernelsvm_keras import (
    KerasLinearSVC,
    KerasOneClassSVM,
    KerasSVC,
    KerasSVCCV,
    KerasSVR,
)

LINE = re.compile(r"^\[(\w+)\] +(\d+\.\d\d)s  (.*)$")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def parsed(text):
    """``(name, seconds, message)`` of every line; each must be a progress line."""
    lines = [LINE.match(line) for line in text.splitlines()]
    assert all(lines), text
    return [(m.group(1), float(m.group(2)), m.group(3)) for m in lines]


def test_silent_at_zero(digits, capsys):
    X, y = digits
    KerasSVC(n_components=32, random_state=0).fit(X, y)
    KerasSVC(n_components=32, random_state=0).partial_fit(X, y, classes=np.arange(10))
    KerasSVCCV(Cs=[1.0, 10.0], n_components=32, cv=2, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_fit_reports_phases_iterations_and_a_summary(digits, capsys, newton):
    X, y = digits
    est = KerasSVC(n_components=64, verbose=1, random_state=0).fit(X, y)
    lines = parsed(capsys.readouterr().out)
    names, seconds, messages = zip(*lines, strict=True)
    assert set(names) == {"KerasSVC"}
    assert list(seconds) == sorted(seconds)  # the time since the fit began
    assert messages[0].startswith("feature map: LandmarkMap")
    assert messages[1].startswith("features: 300 rows x 64, float32 on ")
    import keras  # the backend and its devices: where training computes

    assert keras.backend.backend() in messages[1] and "cpu:0" in messages[1]
    iterations = [m for m in messages if m.startswith("iter")]
    assert len(iterations) == est.n_iter_.max() + 1  # the starting point, then each step
    assert all("(tol 1e-03)" in m and "/10 converged" in m for m in iterations)
    assert messages[-1].startswith(f"converged after {est.n_iter_.max()} iterations")
    assert f"certified gap {est.dual_gap_.max():.2e}" in messages[-1]
    assert not any("step:" in m for m in messages)  # the inner work is verbose=2's


def test_verbose_2_adds_the_steps_and_says_why_it_stopped(digits, capsys, newton):
    X, y = digits
    est = KerasSVC(n_components=64, loss="hinge", max_iter=3, verbose=2, random_state=0)
    with pytest.warns(match="max_iter"):
        est.fit(X, y > 4)
    messages = [m for _, _, m in parsed(capsys.readouterr().out)]
    steps = [m for m in messages if m.strip().startswith("step:")]
    assert len(steps) == 3
    assert all("line search t in" in m and "smoothing" in m for m in steps)
    assert messages[-1].startswith("stopped at max_iter after 3 iterations")


def test_the_family_reports_under_its_own_names(digits, capsys, newton):
    X, y = digits
    KerasSVR(n_components=32, verbose=1, random_state=0).fit(X, y.astype(float))
    KerasOneClassSVM(n_components=32, verbose=1, random_state=0).fit(X)
    KerasLinearSVC(verbose=1).fit(X, y)
    lines = parsed(capsys.readouterr().out)
    for name in ["KerasSVR", "KerasOneClassSVM", "KerasLinearSVC"]:
        own = [m for n, _, m in lines if n == name]
        assert own[0].startswith("feature map:") and "after" in own[-1]
    assert any(m.startswith("feature map: IdentityMap") for n, _, m in lines)
    # before the one-class SVM has a feasible dual point, no gap is claimed
    assert not any("gap inf" in m or "gap nan" in m for _, _, m in lines)


def test_a_small_problem_reports_its_exact_dual(digits, capsys):
    # below the dual route's row limit: one line for libsvm's solve, no Newton
    X, y = digits
    est = KerasSVC(n_components=64, verbose=1, random_state=0).fit(X, y)
    messages = [m for _, _, m in parsed(capsys.readouterr().out)]
    assert messages[:2] == [m for m in messages if m.startswith("feature")]
    assert len(messages) == 3 and not any(m.startswith("iter") for m in messages)
    prefix = f"exact dual (libsvm, float64) on 300 rows: {est.n_iter_.max()} iterations; "
    assert messages[2].startswith(prefix + "certified gap ")
    # (the gap of the training features; dual_gap_ is the model's own, to float32's rounding)
    gap = float(messages[2][len(prefix + "certified gap ") :].split()[0])
    assert abs(gap - est.dual_gap_.max()) <= 1e-6


def test_partial_fit_reports_each_call(digits, capsys):
    X, y = digits
    est = KerasSVC(n_components=32, verbose=1, random_state=0)
    est.partial_fit(X[:100], y[:100], classes=np.arange(10))
    est.partial_fit(X[100:250], y[100:250])
    messages = [m for _, _, m in parsed(capsys.readouterr().out)]
    assert messages == [
        "partial_fit: one SGD pass over 100 rows (100 seen)",
        "partial_fit: one SGD pass over 150 rows (250 seen)",
    ]


@pytest.mark.parametrize("verbose", [1, 2])
def test_search_reports_each_solve(digits, capsys, verbose, newton):
    X, y = digits
    search = KerasSVCCV(
        Cs=[1.0, 10.0],
        gammas=[0.01, 0.02],
        n_components=32,
        cv=2,
        verbose=verbose,
        random_state=0,
    ).fit(X, y)
    messages = [m for _, _, m in parsed(capsys.readouterr().out)]
    assert messages[0] == (
        "4 candidates x 2 folds: 8 solves (2 feature maps per fold, a path of 2 C values)"
    )
    solves = [m for m in messages if m.startswith("solve ")]
    assert len(solves) == 8 and solves[-1].startswith("solve 8/8, fold 2/2: C=10, gamma=0.02")
    best = [m for m in messages if m.startswith("best: ")]
    assert len(best) == 1 and best[0].startswith(f"best: C={search.best_params_['C']:.4g}")
    assert best[0].endswith("; refit on all rows")
    # the solves' and the refit's own iterations at verbose=2 only
    assert any(m.startswith("iter") for m in messages) == (verbose == 2)
    assert any(m.startswith("feature map:") for m in messages) == (verbose == 2)
