"""
Fit time against SVC as the data grows
======================================

``SVC``'s training is quadratic (or worse) in the number of samples;
``KerasSVC`` solves a linear SVM on ``n_components`` features, linear in the
samples. This example times both on a synthetic problem of growing size, with
the RBF kernel and the same ``C`` and ``gamma``, and prints their test
accuracy. The times are those of the machine that built this page (the
project's measured figures, on real data, are in ``benchmarks/RESULTS.md``);
on small data ``SVC`` is the faster one.
"""

import time

import matplotlib.pyplot as plt
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from kernelsvm_keras import KerasSVC

sizes = [500, 1000, 2000, 4000, 8000]
X, y = make_classification(
    max(sizes) * 2, 20, n_informative=10, flip_y=0.05, class_sep=0.8, random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
gamma = 1.0 / X.shape[1]

KerasSVC(random_state=0).fit(X_train[:100], y_train[:100])  # Keras's one-time start-up
times = {"SVC": [], "KerasSVC": []}
for n in sizes:
    for name, model in [
        ("SVC", SVC(C=1.0, gamma=gamma)),
        ("KerasSVC", KerasSVC(C=1.0, gamma=gamma, n_components=500, random_state=0)),
    ]:
        start = time.perf_counter()
        model.fit(X_train[:n], y_train[:n])
        times[name].append(time.perf_counter() - start)
        print(
            f"{name:9s} n={n:5d}: fit {times[name][-1]:6.2f} s, "
            f"test accuracy {model.score(X_test, y_test):.3f}"
        )

fig, ax = plt.subplots(figsize=(6, 4))
for name, values in times.items():
    ax.loglog(sizes, values, "o-", label=name)
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.minorticks_off()
ax.set_xlabel("training samples")
ax.set_ylabel("fit time (s)")
ax.set_title("RBF kernel, C=1, 20 features")
ax.legend()
fig.tight_layout()
plt.show()
