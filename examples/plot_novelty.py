"""
Novelty detection with KerasOneClassSVM
=======================================

``KerasOneClassSVM`` is ``OneClassSVM``'s problem (``nu`` bounds the share of
training points outside) on the same solver. Trained on two clusters, it draws
the frontier ``decision_function = 0``; new regular points fall inside, and
points drawn uniformly fall mostly outside. ``OneClassSVM``'s frontier is
dashed, for comparison.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.svm import OneClassSVM

from kernelsvm_keras import KerasOneClassSVM

rng = np.random.RandomState(0)
clusters = np.r_[rng.normal(size=(200, 2)) * 0.4 + 2, rng.normal(size=(200, 2)) * 0.4 - 2]
new_regular = np.r_[rng.normal(size=(20, 2)) * 0.4 + 2, rng.normal(size=(20, 2)) * 0.4 - 2]
uniform = rng.uniform(-4, 4, size=(40, 2))

detector = KerasOneClassSVM(nu=0.1, gamma=0.5, random_state=0).fit(clusters)
reference = OneClassSVM(nu=0.1, gamma=0.5).fit(clusters)
print(f"training points outside: {np.mean(detector.predict(clusters) == -1):.2f} (nu=0.1)")
print(f"new regular points inside: {np.mean(detector.predict(new_regular) == 1):.2f}")
print(f"uniform points outside: {np.mean(detector.predict(uniform) == -1):.2f}")

xx, yy = np.meshgrid(np.linspace(-4.5, 4.5, 150), np.linspace(-4.5, 4.5, 150))
rows = np.c_[xx.ravel(), yy.ravel()]
values = detector.decision_function(rows).reshape(xx.shape)
fig, ax = plt.subplots(figsize=(6, 6))
ax.contourf(xx, yy, values, levels=np.linspace(values.min(), 0, 7), cmap="Blues_r")
ax.contour(xx, yy, values, levels=[0], colors="darkred", linewidths=2)
ax.contour(
    xx,
    yy,
    reference.decision_function(rows).reshape(xx.shape),
    levels=[0],
    colors="k",
    linestyles="--",
    linewidths=1,
)
ax.scatter(clusters[:, 0], clusters[:, 1], s=8, c="white", edgecolors="k", label="training")
ax.scatter(
    new_regular[:, 0], new_regular[:, 1], s=20, c="blueviolet", edgecolors="k", label="new regular"
)
ax.scatter(uniform[:, 0], uniform[:, 1], s=20, c="gold", edgecolors="k", label="uniform")
ax.set_title("KerasOneClassSVM (solid) and OneClassSVM (dashed)")
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()
