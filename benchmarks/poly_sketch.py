"""PolynomialCountSketch + KerasLinearSVC, to compare with KerasSVC(kernel="poly")'s landmarks.

Is a sketch of the polynomial kernel (scikit-learn's PolynomialCountSketch,
Pham and Pagh, 2013) worth offering next to landmarks? This fits the sketch's
features (degree 3, gamma='scale', coef0=0, 2048 and 8192 of them) with our
linear SVM (the same solver and C=1) and prints accuracy and fit time as one
JSON line each; compare with ``compare.py --kernel poly --systems KerasSVC``.

Usage::

    python benchmarks/poly_sketch.py NAME TRAIN TEST N_FEATURES
"""

import json
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_svmlight_file
from sklearn.kernel_approximation import PolynomialCountSketch
from sklearn.preprocessing import StandardScaler

from kernelsvm_keras import KerasLinearSVC

warnings.simplefilter("ignore")
name, train, test, nf = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
Xtr, ytr = load_svmlight_file(train, n_features=nf)
Xte, yte = load_svmlight_file(test, n_features=nf)
sc = StandardScaler().fit(Xtr.toarray())
Xtr = sc.transform(Xtr.toarray()).astype(np.float32)
Xte = sc.transform(Xte.toarray()).astype(np.float32)
g = float(1.0 / (Xtr.shape[1] * Xtr.var()))
for D in (2048, 8192):
    t = time.perf_counter()
    sk = PolynomialCountSketch(degree=3, gamma=g, coef0=0, n_components=D, random_state=0).fit(Xtr)
    Ftr = sk.transform(Xtr)
    clf = KerasLinearSVC().fit(Ftr, ytr)
    fit = time.perf_counter() - t
    acc = float(np.mean(clf.predict(sk.transform(Xte)) == yte))
    print(
        json.dumps(
            {
                "dataset": name,
                "system": f"PolynomialCountSketch({D})+KerasLinearSVC",
                "accuracy": round(acc, 4),
                "fit_s": round(fit, 2),
            }
        ),
        flush=True,
    )
