"""The same fit on two Keras backends gives the same model (within the solver's tol).

The other backend runs in a subprocess (Keras picks its backend once per
process): TensorFlow when this process runs another backend, else JAX or
torch when installed.
"""

import contextlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from kernelsvm_keras import KerasLinearSVC, KerasSVC

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from sklearn.datasets import load_digits
    from kernelsvm_keras import KerasLinearSVC, KerasSVC
    X, y = load_digits(return_X_y=True)
    X = X[:500] / 16.0
    out = {}
    for name, est in [("svc", KerasSVC(C=10, n_components=256, random_state=0)),
                      ("linear", KerasLinearSVC(C=0.1))]:
        est.set_params(tol=1e-4).fit(X, y[:500])
        out[name] = est.decision_function(X).tolist()
    json.dump(out, sys.stdout)
    """
)


def other_backend():
    if keras.backend.backend() != "tensorflow":
        return "tensorflow"
    for name in ("jax", "torch"):
        if importlib.util.find_spec(name) is not None:
            return name
    return None


@pytest.mark.skipif(other_backend() is None, reason="no second Keras backend installed")
def test_same_model_on_another_backend():
    backend = other_backend()
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    theirs = json.loads(result.stdout)
    X, y = load_digits(return_X_y=True)
    X = X[:500] / 16.0
    ours = {
        "svc": KerasSVC(C=10, n_components=256, random_state=0, tol=1e-4).fit(X, y[:500]),
        "linear": KerasLinearSVC(C=0.1, tol=1e-4).fit(X, y[:500]),
    }
    for name, est in ours.items():
        ref = np.asarray(theirs[name])
        scores = est.decision_function(X)
        # Both optima are certified to 1e-4 of the objective: the decision values
        # agree to a small fraction of their scale, and so do the predictions.
        assert np.abs(scores - ref).max() < 0.02 * np.abs(ref).max(), (backend, name)
        assert np.mean(np.argmax(scores, 1) == np.argmax(ref, 1)) > 0.99


@contextlib.contextmanager
def _jax_log():
    """The messages JAX logs inside the block, its compilations included."""
    import logging

    import jax

    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("jax")
    logger.addHandler(handler)
    try:
        with jax.log_compiles():
            yield messages
    finally:
        logger.removeHandler(handler)


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="only JAX compiles a program per shape; the other backends run operations eagerly",
)
def test_a_second_fit_of_the_same_shapes_compiles_nothing():
    # Every program of a fit (the solver's compiled arithmetic, the eager
    # operations, the gathers of curved rows padded to a few sizes) is
    # compiled by the first fit of these shapes, and a grid search's later
    # fits reuse them.
    from sklearn.datasets import make_classification

    # more rows than the exact dual takes: Newton's iterations on the device
    X, y = make_classification(6000, 20, n_informative=10, n_classes=3, random_state=0)
    first = KerasSVC(C=10, n_components=256, random_state=0).fit(X, y)
    assert first.n_iter_.max() > 1
    with _jax_log() as messages:
        second = KerasSVC(C=10, n_components=256, random_state=0).fit(X, y)
    # (neither traced again, as an unhashable static argument would make
    # them, nor compiled)
    assert [m for m in messages if "tracing" in m or m.startswith("Compiling")] == []
    np.testing.assert_array_equal(second.coef_, first.coef_)


@pytest.mark.parametrize(
    "source, dtype",
    [("float64", None), ("float32", None), ("float64", "float32"), ("float32", "float64"),
     ("int64", None), ("int64", "int32"), ("bool", None)],
)  # fmt: skip
def test_to_tensor_converts_as_keras_does(source, dtype):
    # (on JAX by a copy to the device instead of Keras's jnp.asarray, on the
    # other backends by Keras itself)
    import warnings

    from kernelsvm_keras._keras import to_tensor

    array = (np.arange(12).reshape(3, 4) % 5).astype(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (JAX warns of float64 without x64 in Keras's)
        theirs = keras.ops.convert_to_tensor(array, dtype)
    ours = to_tensor(array, dtype)
    standardize = keras.backend.standardize_dtype
    assert standardize(ours.dtype) == standardize(theirs.dtype)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
    )
    tensor = keras.ops.ones((2, 2))
    assert to_tensor(tensor) is tensor or keras.backend.backend() != "jax"


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="only JAX compiles a program per shape; the other backends run operations eagerly",
)
def test_arrays_of_new_shapes_reach_the_device_without_a_program():
    # JAX 0.10 stages a NumPy array through `jit(stage)` once per new shape
    # in `jnp.asarray`, which Keras's conversion calls: every fold and every
    # row count of a fit paid 20-60 ms on the CPU. `to_tensor` copies instead.
    from kernelsvm_keras._keras import to_tensor

    with _jax_log() as messages:
        for rows in (37, 38, 39):
            to_tensor(np.ones((rows, 5), dtype=np.float32))
            to_tensor(np.ones(rows), "float32")
            to_tensor(np.arange(rows))
    assert [m for m in messages if m.startswith("Compiling")] == []


RESIDENT_SCRIPT = textwrap.dedent(
    """
    import os, jax, keras, numpy as np
    from sklearn.datasets import make_classification
    from kernelsvm_keras import KerasSVC
    import kernelsvm_keras._certificate as certificate
    import kernelsvm_keras._design as design
    import kernelsvm_keras._solver as solver

    solver._DIRECT_MAX_ROWS = 0  # no direct steps: they factor on the host
    # CG on the curved rows where they are under 3,600 of the 6,000 (the default
    # half is within a few rows of their count at the last iterations, 3,057 on
    # one CPU, fewer on another): the first iterations on all rows (6,000, 4,597,
    # 3,992 curved), the later ones on the curved (3,287 down to 3,057)
    solver._CG_SUBSET_FRACTION = 0.6
    solver._PRECOND_GRAM_BYTES = 0
    certificate._SUPPORT_MAX_ROWS = certificate._SUPPORT_GRAM_BYTES = 0  # (the same bounds)
    X, y = make_classification(6000, 20, n_informative=10, n_classes=3, random_state=0)
    params = dict(C=100, n_components=256, batch_size=2000, random_state=0)
    KerasSVC(**params).fit(X, y)  # compiled once: the fit below sends no program

    # every conversion to NumPy (what the solver reads from the device) and
    # every Newton iteration, written to stderr among JAX's transfer log
    convert, track = keras.ops.convert_to_numpy, solver._track
    subset = design.RowBlocks.curved_subset
    def logged_convert(x):
        os.write(2, f"@@ to host {int(np.prod(np.shape(x)))}\\n".encode())
        return convert(x)
    def logged_track(*args, **kwargs):
        os.write(2, b"@@ iteration\\n")
        return track(*args, **kwargs)
    def logged_subset(*args):
        os.write(2, b"@@ subset\\n")
        return subset(*args)
    keras.ops.convert_to_numpy, solver._track = logged_convert, logged_track
    design.RowBlocks.curved_subset = logged_subset
    with jax.transfer_guard_host_to_device("log"):
        jax.numpy.asarray(np.ones(7, np.float32))  # the log is seen: a transfer of 7
        fitted = KerasSVC(**params).fit(X, y)
    os.write(2, f"@@ n_iter {fitted.n_iter_.max()}\\n".encode())
    """
)


@pytest.mark.skipif(
    importlib.util.find_spec("jax") is None,
    reason="the count runs on JAX (its transfer guard); JAX is not installed",
)
def test_conjugate_gradient_iterations_stay_on_the_device():
    # Issue 19: inside a Newton iteration nothing crosses between host and
    # device but a few numbers per column. JAX's transfer guard logs every
    # implicit host-to-device transfer (in a subprocess on JAX, where its
    # warnings are not silenced as in this suite); the solver's reads from
    # the device are its conversions to NumPy. Direct steps (factored in
    # float64 on the host) are turned off: the iterations are conjugate-
    # gradient steps, on all rows and on the curved rows gathered on the
    # device.
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "1"}
    result = subprocess.run(
        [sys.executable, "-c", RESIDENT_SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    err = result.stderr
    if "transfer_guard" in err and "float32[7]" not in err:
        pytest.skip("this JAX's transfer log names no shapes (0.4.30 logs the transfers bare)")
    assert "float32[7]" in err
    K, blocks = 3, 3
    n_iter = int(re.search(r"@@ n_iter (\d+)", err).group(1))
    assert n_iter >= 4
    assert 0 < err.count("@@ subset") < n_iter, "CG on the curved rows, and on all rows"
    # (the features went to the device before the first iteration; the
    # iterations after it, whose directions are computed, are counted)
    iterations = err.split("@@ iteration")[1:-1]
    assert len(iterations) == n_iter
    for text in iterations:
        shapes = re.findall(r"host-to-device transfer: aval=ShapedArray\(\w+\[([^\]]*)\]", text)
        sent = [int(np.prod([int(d) for d in shape.split(",") if d.strip()])) for shape in shapes]
        read = [int(size) for size in re.findall(r"@@ to host (\d+)", text)]
        # a few numbers per column each way: no row's or feature's values
        assert max(sent, default=0) <= K, sent
        assert sum(read) <= 2 * K + 1 + blocks, read


def _matmul_precision():
    """The backend's setting for float32 matrix products, and the full-float32 value."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.config.jax_default_matmul_precision, "float32"
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.config.experimental.tensor_float_32_execution_enabled(), False
    import torch

    return torch.get_float32_matmul_precision(), "highest"


@contextlib.contextmanager
def _reduced_precision():
    """A user's setting that rounds float32 products (the default on JAX and TensorFlow GPUs)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        with jax.default_matmul_precision("bfloat16"):
            yield
    elif backend == "tensorflow":
        import tensorflow as tf

        enabled = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(True)
        try:
            yield
        finally:
            tf.config.experimental.enable_tensor_float_32_execution(enabled)
    else:
        import torch

        previous = torch.get_float32_matmul_precision()
        torch.set_float32_matmul_precision("medium")
        try:
            yield
        finally:
            torch.set_float32_matmul_precision(previous)


def test_fits_multiply_in_full_float32_and_leave_the_user_s_setting(monkeypatch):
    # On an H200, JAX's default TensorFloat-32 products stalled MNIST's Newton
    # iterations at a certified gap of 3e-2 (benchmarks/RESULTS.md, "On a GPU"):
    # every fit computes in full float32, and the user's setting is back after it.
    from kernelsvm_keras import KerasSVCCV

    seen = []
    solve = KerasSVC._solve

    def spy(self, *args, **kwargs):
        seen.append(_matmul_precision()[0])
        return solve(self, *args, **kwargs)

    monkeypatch.setattr(KerasSVC, "_solve", spy)
    X, y = load_digits(return_X_y=True)
    X = X[:300] / 16.0
    with _reduced_precision():
        before, full = _matmul_precision()
        assert before != full
        KerasSVC(n_components=64, random_state=0).fit(X, y[:300])
        KerasSVCCV(Cs=(1.0,), gammas=("scale",), cv=2, n_components=64).fit(X, y[:300])
        assert seen and all(value == full for value in seen)
        assert _matmul_precision()[0] == before
        with pytest.raises(ValueError):
            KerasSVC(n_components=64).fit(X, np.full(300, np.nan))  # a failed fit restores it too
        assert _matmul_precision()[0] == before


def test_full_float32_nests_and_restores_at_the_last_exit():
    # TensorFlow's and torch's switches are process-wide: fits on two threads
    # share them, and the first to finish must not switch the other's back.
    from kernelsvm_keras._compiled import full_float32

    with _reduced_precision():
        before, full = _matmul_precision()
        outer = full_float32()
        outer.__enter__()
        with full_float32():
            assert _matmul_precision()[0] == full
        assert _matmul_precision()[0] == full
        outer.__exit__(None, None, None)
        assert _matmul_precision()[0] == before


def test_streamed_landmark_products_are_the_float64_products_of_their_parts():
    # Nearly singular landmarks (many, on three features): N V has entries
    # that cancel in k(X, Z) @ (N V). In float32 those passes were not linear
    # to float32's precision (a 2M-row fit's Newton steps stalled on the
    # noise); where the backend has float64, a streamed pass multiplies its
    # float32 kernel block and factor in float64, rounding once to float32
    # (on JAX without jax_enable_x64 too, inside its enable_x64 context).
    from keras import ops

    from kernelsvm_keras import _design, _keras
    from kernelsvm_keras._maps import make_feature_map

    if _keras.float64_scope() is None:
        pytest.skip("the backend multiplies float64 matrices in float32: the passes stay so")
    product_before = _keras.float64_products()
    rng = np.random.RandomState(0)
    rows = rng.normal(size=(600, 3))
    feature_map = make_feature_map(kernel="rbf", gamma=0.05, n_components=200)
    feature_map.fit(rows, np.random.RandomState(0))
    transform, factor = feature_map.training_form()
    width = feature_map.width
    streamed = _design.RowBlocks(
        rows, transform, width, batch_size=128, cache_bytes=0, factor=factor
    )
    assert streamed.streamed and streamed.factored
    block = np.vstack([ops.convert_to_numpy(B) for _, _, B in streamed._raw_blocks()])
    block, N = block.astype(np.float64), streamed._factor_host
    V = rng.normal(size=(width, 2)).astype(np.float32)
    U = rng.normal(size=(len(rows), 2)).astype(np.float32)
    Z_exact, u_exact = block @ (N @ V), N.T @ (block.T @ U)
    # (the cancellation: the terms are far larger than the sums)
    assert (np.abs(block) @ np.abs(N @ V)).max() > 100 * np.abs(Z_exact).max()

    Z = ops.convert_to_numpy(streamed.matmul(ops.convert_to_tensor(V)))
    np.testing.assert_allclose(Z, Z_exact, rtol=1e-6, atol=1e-6 * np.abs(Z_exact).max())
    u = ops.convert_to_numpy(streamed.rmatmul(ops.convert_to_tensor(U)))
    np.testing.assert_allclose(u, u_exact, rtol=1e-6, atol=1e-6 * np.abs(u_exact).max())
    Z, total = streamed.matmul_rmatmul(
        ops.convert_to_tensor(V), 0.0, lambda start, stop, Zb: ops.convert_to_tensor(U[start:stop])
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(Z), Z_exact, rtol=1e-6, atol=1e-6 * np.abs(Z_exact).max()
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(total), u_exact, rtol=1e-6, atol=1e-6 * np.abs(u_exact).max()
    )

    # the products' float64 context is left as found: float64 arrays are float32 again
    assert _keras.float64_products() == product_before
