"""Scale: memory maps, bounded memory, and a grid search spread by dask."""

import tracemalloc

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV

from kernelsvm_keras import KerasLinearSVC, KerasSVC
from kernelsvm_keras._maps import _blockwise_variance

X_small, y_small = make_classification(
    n_samples=600, n_features=10, n_informative=6, random_state=0
)


def test_blockwise_variance_equals_numpy():
    rng = np.random.RandomState(0)
    X = (rng.normal(size=(1000, 7)) * 3 + 100).astype(np.float32)
    assert _blockwise_variance(X, block_elements=50) == pytest.approx(
        X.astype(np.float64).var(), rel=1e-9
    )


@pytest.fixture
def memmapped(tmp_path):
    X, y = make_classification(n_samples=60_000, n_features=200, n_informative=20, random_state=0)
    path = tmp_path / "X.f32"
    X_map = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    X_map[:] = X
    X_map.flush()
    return np.memmap(path, dtype=np.float32, mode="r", shape=X.shape), y


@pytest.mark.parametrize(
    "est",
    [
        KerasLinearSVC(batch_size=5000, cache_size=0),
        KerasSVC(n_components=64, batch_size=5000, cache_size=0, random_state=0),
    ],
    ids=["KerasLinearSVC", "KerasSVC"],
)
def test_fit_on_a_memmap_never_copies_it(memmapped, est):
    """Host memory allocated during fit + predict stays far below the size of X."""
    X, y = memmapped
    tracemalloc.start()
    try:
        est.fit(X, y)
        est.predict(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Per-row vectors (labels, weights, targets, scores) cost ~8 bytes x a few per
    # row; X itself is 800 bytes per row. A copy of X would be more than all of it.
    assert peak < X.nbytes / 2, f"peak {peak / 2**20:.1f} MiB for X of {X.nbytes / 2**20:.1f} MiB"
    in_memory = type(est)(**est.get_params()).fit(np.asarray(X), y)
    np.testing.assert_allclose(est.coef_, in_memory.coef_, rtol=1e-5, atol=1e-6)


def test_grid_search_on_a_dask_cluster():
    """GridSearchCV(n_jobs=-1) under joblib's dask backend: the documented way to spread it."""
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config

    grid = {"C": [0.1, 1.0], "gamma": [0.05, 0.1]}
    est = KerasSVC(n_components=128, random_state=0)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with parallel_config(backend="dask"):
            search = GridSearchCV(est, grid, cv=3, n_jobs=-1).fit(X_small, y_small)
        assert len(client.scheduler_info()["workers"]) == 2
    local = GridSearchCV(est, grid, cv=3, n_jobs=1).fit(X_small, y_small)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert search.best_params_ == local.best_params_
