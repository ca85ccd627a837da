"""
The kernels of SVC, side by side
================================

``KerasSVC`` takes every kernel of ``SVC``. On two interleaved half-moons, each
column fits one kernel with both estimators (same ``C``, same ``gamma``) and
draws the decision function's zero line and margins: ``KerasSVC`` approximates
the kernel with 100 Nystroem landmarks, so its boundaries follow ``SVC``'s
closely but not to the pixel.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons
from sklearn.svm import SVC

from kernelsvm_keras import KerasSVC

X, y = make_moons(300, noise=0.2, random_state=0)
grid = np.stack(np.meshgrid(np.linspace(-1.8, 2.8, 120), np.linspace(-1.3, 1.8, 100)), -1)
rows = grid.reshape(-1, 2)

kernels = [
    ("linear", {}),
    ("poly", {"degree": 3, "coef0": 1.0, "gamma": 1.0}),
    ("rbf", {"gamma": 2.0}),
    ("laplacian", {"gamma": 1.0}),
]
fig, axes = plt.subplots(2, len(kernels), figsize=(13, 6), sharex=True, sharey=True)
for column, (kernel, params) in enumerate(kernels):
    models = [KerasSVC(kernel=kernel, C=1.0, n_components=100, random_state=0, **params)]
    if kernel != "laplacian":  # SVC has no Laplacian kernel
        models.append(SVC(kernel=kernel, C=1.0, **params))
    for row, model in enumerate(models):
        model.fit(X, y)
        ax = axes[row, column]
        values = model.decision_function(rows).reshape(grid.shape[:2])
        ax.contourf(grid[..., 0], grid[..., 1], values, levels=20, cmap="RdBu", alpha=0.6)
        ax.contour(
            grid[..., 0],
            grid[..., 1],
            values,
            levels=[-1, 0, 1],
            colors="k",
            linestyles=["--", "-", "--"],
            linewidths=1,
        )
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="bwr", edgecolors="k", linewidths=0.4, s=14)
        ax.set_title(f"{type(model).__name__}, {kernel}\ntraining accuracy {model.score(X, y):.2f}")
    if kernel == "laplacian":
        axes[1, column].set_axis_off()
fig.tight_layout()
plt.show()
