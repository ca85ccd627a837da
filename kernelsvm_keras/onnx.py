"""ONNX export of the fitted estimators, through skl2onnx.

Importing this module registers a converter for every estimator of
kernelsvm_keras with :mod:`skl2onnx` (it needs ``pip install
"kernelsvm_keras[onnx]"``), so that a pipeline of scikit-learn preprocessors
and our models converts as a whole::

    import kernelsvm_keras.onnx  # registers the converters
    from skl2onnx import to_onnx

    onx = to_onnx(pipeline, X[:1].astype(np.float32))

The graph computes what ``decision_function`` computes (the feature map and
the hyperplanes), in the input's precision (float32 or float64), then what
each estimator makes of it:

- classifiers: ``label`` (``predict``) and ``probabilities``:
  ``predict_proba`` with ``probability=True``, else ``decision_function`` as
  a matrix (two columns ``[-d, d]`` for two classes, as skl2onnx's linear
  classifiers), turned into a list of dictionaries by skl2onnx's ZipMap
  unless the option ``zipmap=False`` is given. With
  ``decision_function_shape="ovo"`` the columns are pairs of classes, not
  classes, so that shape needs ``zipmap=False``;
- regressors: ``variable``, ``predict`` as a column;
- the one-class SVM: ``label`` (``predict``, +1 / -1) and ``scores``
  (``decision_function``).

A callable kernel (a Python function) cannot be exported (``ValueError``).
"""

import numbers

import numpy as np
from skl2onnx import update_registered_converter
from skl2onnx._parse import _parse_sklearn_classifier
from skl2onnx.algebra.onnx_ops import (
    OnnxAbs,
    OnnxAdd,
    OnnxArgMax,
    OnnxCast,
    OnnxConcat,
    OnnxCos,
    OnnxDiv,
    OnnxExp,
    OnnxGather,
    OnnxGreater,
    OnnxIdentity,
    OnnxLess,
    OnnxMatMul,
    OnnxMax,
    OnnxMul,
    OnnxNeg,
    OnnxPow,
    OnnxReshape,
    OnnxSigmoid,
    OnnxSub,
    OnnxTanh,
    OnnxWhere,
)
from skl2onnx.common.data_types import (
    Int64TensorType,
    StringTensorType,
    guess_numpy_type,
)
from skl2onnx.proto import onnx_proto
from sklearn.utils.validation import check_is_fitted

from ._classes import KerasLinearSVC, KerasSVC
from ._maps import IdentityMap, LandmarkMap, PrecomputedMap, RandomFourierMap
from ._one_class import KerasOneClassSVM
from ._regression import KerasLinearSVR, KerasSVR
from ._search import KerasLinearSVCCV, KerasSVCCV, KerasSVRCV

CLASSIFIERS = (KerasSVC, KerasLinearSVC, KerasSVCCV, KerasLinearSVCCV)
REGRESSORS = (KerasSVR, KerasLinearSVR, KerasSVRCV)
OUTLIER_DETECTORS = (KerasOneClassSVM,)

_INT64 = onnx_proto.TensorProto.INT64


# -- the problems' scores: phi(X) @ coef.T + intercept ------------------------


def _identity(feature_map, X, dtype, opv):
    return X, np.eye(feature_map.width, dtype=np.float64)


def _random_fourier(feature_map, X, dtype, opv):
    projection = OnnxAdd(
        OnnxMatMul(X, feature_map.random_weights_.astype(dtype), op_version=opv),
        feature_map.random_offset_.astype(dtype),
        op_version=opv,
    )
    return OnnxCos(projection, op_version=opv), np.sqrt(2.0 / feature_map.width) * np.eye(
        feature_map.width
    )


def _landmarks(feature_map, X, dtype, opv):
    if callable(feature_map.kernel):
        raise ValueError(
            "A callable kernel cannot be exported to ONNX: it is a Python function on NumPy "
            "arrays, which an ONNX graph cannot hold. Use a named kernel ('rbf', 'poly', ...), "
            "or compute the kernel yourself and use kernel='precomputed'."
        )
    return _kernel(feature_map, X, dtype, opv), feature_map.normalization_


def _kernel(feature_map, X, dtype, opv):
    """``k(X, Z)`` of the landmarks ``Z``.

    With :func:`~kernelsvm_keras.layers.kernel_matrix_numpy`'s conventions: the
    RBF kernel is centred on the landmarks' mean, as there.
    """
    kernel = feature_map.kernel
    scale, gamma, Z = feature_map.folded_gamma(dtype)

    def scalar(value):
        return np.array([value], dtype=dtype)

    if scale != 1.0:  # gamma beyond float32 folded into rows and landmarks, as in training
        X = OnnxMul(X, scalar(scale), op_version=opv)

    if kernel == "rbf":
        center = Z.mean(axis=0)
        Zc = Z - center
        Xc = OnnxSub(X, center.astype(dtype), op_version=opv)
        x_norms = OnnxMatMul(
            OnnxMul(Xc, Xc, op_version=opv), np.ones((Z.shape[1], 1), dtype=dtype), op_version=opv
        )
        cross = OnnxMatMul(Xc, (-2.0 * Zc.T).astype(dtype), op_version=opv)
        z_norms = np.einsum("ij,ij->i", Zc, Zc).astype(dtype)
        distances = OnnxAdd(OnnxAdd(x_norms, cross, op_version=opv), z_norms, op_version=opv)
        distances = OnnxMax(distances, scalar(0.0), op_version=opv)
        return OnnxExp(OnnxMul(distances, scalar(-gamma), op_version=opv), op_version=opv)
    if kernel == "laplacian":
        # (n, 1, d) - (m, d) -> (n, m, d): |.| summed over d by a product with ones
        rows = OnnxReshape(X, np.array([-1, 1, Z.shape[1]], dtype=np.int64), op_version=opv)
        differences = OnnxAbs(OnnxSub(rows, Z.astype(dtype), op_version=opv), op_version=opv)
        distances = OnnxMatMul(differences, np.ones((Z.shape[1], 1), dtype=dtype), op_version=opv)
        distances = OnnxReshape(
            distances, np.array([-1, Z.shape[0]], dtype=np.int64), op_version=opv
        )
        return OnnxExp(OnnxMul(distances, scalar(-gamma), op_version=opv), op_version=opv)
    inner = OnnxMatMul(X, Z.T.astype(dtype), op_version=opv)
    if kernel == "linear":
        return inner
    inner = OnnxAdd(
        OnnxMul(inner, scalar(gamma), op_version=opv), scalar(feature_map.coef0), op_version=opv
    )
    if kernel == "sigmoid":
        return OnnxTanh(inner, op_version=opv)
    if kernel == "poly":
        return OnnxPow(inner, scalar(feature_map.degree), op_version=opv)
    raise ValueError(f"No ONNX form of kernel={kernel!r}.")


def _precomputed(feature_map, X, dtype, opv):
    columns = OnnxGather(X, feature_map.component_indices_.astype(np.int64), axis=1, op_version=opv)
    return columns, feature_map.normalization_


_MAPS = {
    IdentityMap: _identity,
    RandomFourierMap: _random_fourier,
    LandmarkMap: _landmarks,
    PrecomputedMap: _precomputed,
}


def _check_exportable(model):
    check_is_fitted(model)
    if hasattr(model, "_check_refitted"):  # a search fitted with refit=False
        model._check_refitted()


def _problem_scores(model, X, dtype, opv):
    """The graph of ``model._problem_scores``: ``(n, n_problems)``."""
    feature_map = model._map
    features, to_coef = _MAPS[type(feature_map)](feature_map, X, dtype, opv)
    coef, intercept = model._model()
    # phi(X) @ coef.T = features @ (to_coef @ coef.T): the features' width never
    # multiplies a square matrix, as in decision_function
    weights = (to_coef @ coef.T).astype(dtype)
    return OnnxAdd(
        OnnxMatMul(features, weights, op_version=opv), intercept.astype(dtype), op_version=opv
    )


# -- classifiers ---------------------------------------------------------------


def _pair_matrices(n_classes):
    """``(first, second)``, each ``(n_pairs, n_classes)``: the classes of each pair, one-hot."""
    first, second = np.triu_indices(n_classes, k=1)
    eye = np.eye(n_classes)
    return eye[first], eye[second]


def _indicator(condition, dtype, opv):
    return OnnxCast(condition, to=_proto_type(dtype), op_version=opv)


def _proto_type(dtype):
    if dtype == np.float64:
        return onnx_proto.TensorProto.DOUBLE
    return onnx_proto.TensorProto.FLOAT


def _ovr_from_ovo(scores, n_classes, dtype, opv):
    """scikit-learn's ``_ovr_decision_function(scores < 0, -scores, n_classes)``."""
    first, second = _pair_matrices(n_classes)
    negative = _indicator(OnnxLess(scores, np.array([0], dtype=dtype), op_version=opv), dtype, opv)
    votes = OnnxAdd(
        OnnxMatMul(negative, (second - first).astype(dtype), op_version=opv),
        first.sum(axis=0).astype(dtype),
        op_version=opv,
    )
    confidences = OnnxMatMul(scores, (first - second).astype(dtype), op_version=opv)
    scale = OnnxMul(
        OnnxAdd(OnnxAbs(confidences, op_version=opv), np.array([1], dtype=dtype), op_version=opv),
        np.array([3], dtype=dtype),
        op_version=opv,
    )
    return OnnxAdd(votes, OnnxDiv(confidences, scale, op_version=opv), op_version=opv)


def _class_scores(model, scores, n_classes, dtype, opv):
    """``model._class_scores``: one column per class (one for two classes)."""
    if model._trained() != "ovo":
        return scores
    return _ovr_from_ovo(scores, n_classes, dtype, opv)


def _decision(model, scores, n_classes, dtype, opv):
    """``decision_function`` as a matrix: ``[-d, d]`` for two classes."""
    if n_classes == 2:
        return OnnxConcat(OnnxNeg(scores, op_version=opv), scores, axis=1, op_version=opv)
    if model._decision_shape() == "ovo":
        if model._trained() == "ovo":
            return scores
        first, second = _pair_matrices(n_classes)
        return OnnxMatMul(scores, (first - second).T.astype(dtype), op_version=opv)
    return _class_scores(model, scores, n_classes, dtype, opv)


def _probabilities(model, scores, n_classes, dtype, opv):
    """``predict_proba``: Platt's sigmoids of the class scores, normalised."""
    class_scores = _class_scores(model, scores, n_classes, dtype, opv)
    a, b = model._platt[:, 0], model._platt[:, 1]
    linear = OnnxAdd(
        OnnxMul(class_scores, a.astype(dtype), op_version=opv), b.astype(dtype), op_version=opv
    )
    probabilities = OnnxSigmoid(OnnxNeg(linear, op_version=opv), op_version=opv)
    if n_classes == 2:
        complement = OnnxSub(np.array([1], dtype=dtype), probabilities, op_version=opv)
        return OnnxConcat(complement, probabilities, axis=1, op_version=opv)
    total = OnnxMatMul(probabilities, np.ones((n_classes, 1), dtype=dtype), op_version=opv)
    positive = OnnxGreater(total, np.array([0], dtype=dtype), op_version=opv)
    uniform = np.full((1, n_classes), 1.0 / n_classes, dtype=dtype)
    return OnnxWhere(
        positive, OnnxDiv(probabilities, total, op_version=opv), uniform, op_version=opv
    )


def _label_index(model, scores, n_classes, dtype, opv):
    """The index in ``classes_`` of ``predict``, ``(n,)`` int64."""
    model._check_break_ties()
    if n_classes == 2:
        positive = OnnxGreater(scores, np.array([0], dtype=dtype), op_version=opv)
        index = OnnxCast(positive, to=_INT64, op_version=opv)
        return OnnxReshape(index, np.array([-1], dtype=np.int64), op_version=opv)
    if model._trained() == "ovo" and not model._break_ties():
        first, second = _pair_matrices(n_classes)
        wins = _indicator(
            OnnxGreater(scores, np.array([0], dtype=dtype), op_version=opv), dtype, opv
        )
        votes = OnnxAdd(
            OnnxMatMul(wins, (first - second).astype(dtype), op_version=opv),
            second.sum(axis=0).astype(dtype),
            op_version=opv,
        )
        return OnnxArgMax(votes, axis=1, keepdims=0, op_version=opv)
    class_scores = _class_scores(model, scores, n_classes, dtype, opv)
    return OnnxArgMax(class_scores, axis=1, keepdims=0, op_version=opv)


def _classes(model):
    classes = model.classes_
    if all(isinstance(c, str) for c in classes):
        return np.array([str(c) for c in classes])
    if all(isinstance(c, (numbers.Integral, bool, np.bool_)) for c in classes) or all(
        isinstance(c, numbers.Real) and float(c).is_integer() for c in classes
    ):
        return np.array([int(c) for c in classes], dtype=np.int64)
    raise ValueError(
        "ONNX labels are int64 or strings, and classes_ holds neither: "
        f"{classes.tolist()!r}. Encode the labels (for instance with LabelEncoder) first."
    )


def _parse_classifier(scope, model, inputs, custom_parsers=None):
    """skl2onnx's classifier parser, once the model is known to predict."""
    _check_exportable(model)
    return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)


def _convert_classifier(scope, operator, container):
    model, opv = operator.raw_operator, container.target_opset
    X = operator.inputs[0]
    dtype = guess_numpy_type(X.type)
    n_classes = len(model.classes_)
    options = container.get_options(model, dict(zipmap=True))
    if n_classes > 2 and model._decision_shape() == "ovo" and options["zipmap"] is not False:
        if getattr(model, "probability", False) is not True:
            raise ValueError(
                "With decision_function_shape='ovo' the scores have a column per pair of "
                "classes, which skl2onnx's ZipMap cannot label with the classes; convert with "
                "options={id(model): {'zipmap': False}} (or decision_function_shape='ovr')."
            )
    scores = _problem_scores(model, X, dtype, opv)
    label = OnnxGather(
        _classes(model),
        _label_index(model, scores, n_classes, dtype, opv),
        op_version=opv,
        output_names=operator.outputs[:1],
    )
    if getattr(model, "probability", False) is True:
        second = _probabilities(model, scores, n_classes, dtype, opv)
    else:
        second = _decision(model, scores, n_classes, dtype, opv)
    second = OnnxIdentity(second, op_version=opv, output_names=operator.outputs[1:2])
    label.add_to(scope, container)
    second.add_to(scope, container)


def _classifier_shapes(operator):
    model = operator.raw_operator
    N = operator.inputs[0].get_first_dimension()
    n_classes = len(model.classes_)
    kind = StringTensorType if _classes(model).dtype.kind == "U" else Int64TensorType
    operator.outputs[0].type = kind([N])
    columns = n_classes
    if (
        n_classes > 2
        and model._decision_shape() == "ovo"
        and getattr(model, "probability", False) is not True
    ):
        columns = n_classes * (n_classes - 1) // 2
    operator.outputs[1].type.shape = [N, columns]


# -- regressors and the one-class SVM ------------------------------------------


def _convert_regressor(scope, operator, container):
    model, opv = operator.raw_operator, container.target_opset
    _check_exportable(model)
    X = operator.inputs[0]
    scores = _problem_scores(model, X, guess_numpy_type(X.type), opv)
    OnnxIdentity(scores, op_version=opv, output_names=operator.outputs[:1]).add_to(scope, container)


def _regressor_shapes(operator):
    N = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type.shape = [N, 1]


def _convert_outlier_detector(scope, operator, container):
    model, opv = operator.raw_operator, container.target_opset
    _check_exportable(model)
    X = operator.inputs[0]
    dtype = guess_numpy_type(X.type)
    scores = OnnxReshape(
        _problem_scores(model, X, dtype, opv), np.array([-1], dtype=np.int64), op_version=opv
    )
    # predict: an inlier at a decision of 0 or more (the boundary included)
    outlier = OnnxLess(scores, np.array([0], dtype=dtype), op_version=opv)
    label = OnnxWhere(
        outlier,
        np.array([-1], dtype=np.int64),
        np.array([1], dtype=np.int64),
        op_version=opv,
        output_names=operator.outputs[:1],
    )
    label.add_to(scope, container)
    OnnxIdentity(scores, op_version=opv, output_names=operator.outputs[1:2]).add_to(
        scope, container
    )


def _outlier_shapes(operator):
    N = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = Int64TensorType([N])
    operator.outputs[1].type.shape = [N]


def register():
    """Register the converters with skl2onnx (done once, on import of this module)."""
    for model in CLASSIFIERS:
        update_registered_converter(
            model,
            f"KernelSVMKeras{model.__name__}",
            _classifier_shapes,
            _convert_classifier,
            parser=_parse_classifier,
            options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
        )
    for model in REGRESSORS:
        update_registered_converter(
            model, f"KernelSVMKeras{model.__name__}", _regressor_shapes, _convert_regressor
        )
    for model in OUTLIER_DETECTORS:
        update_registered_converter(
            model,
            f"KernelSVMKeras{model.__name__}",
            _outlier_shapes,
            _convert_outlier_detector,
        )


register()
