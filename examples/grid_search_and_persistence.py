"""Tune NIso's loss weights with GridSearchCV, then save and reload the model.

The search scores each (alpha, beta) by the accuracy of the whole pipeline on
held-out folds of *clean* digits' pairs; the final model is pickled with joblib
and reloaded, and its predictions are checked to be bit-identical.

    python examples/grid_search_and_persistence.py          # about 8 minutes on 2 CPU cores
"""

import os
import tempfile
import time

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from skniso import EquivariantClassifier, NeuralIsometryTransformer
from skniso.datasets import load_mnist, make_homnist_pairs


def main():
    images, labels = load_mnist()
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, train_size=1200, test_size=500, stratify=labels, random_state=0
    )
    X_pairs, y = make_homnist_pairs(images=train_x, labels=train_y, random_state=0)

    # Short runs: the search compares settings, it does not need converged models.
    pipe = Pipeline([
        ("niso", NeuralIsometryTransformer(max_steps=300, warmup_steps=30, random_state=0)),
        ("clf", EquivariantClassifier(max_steps=200, random_state=0)),
    ])
    grid = {"niso__alpha": [0.0, 0.5], "niso__beta": [0.0, 0.1]}
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=1)
    start = time.perf_counter()
    search.fit(X_pairs, y)
    print(f"grid search: {time.perf_counter() - start:.0f} s")
    table = pd.DataFrame(search.cv_results_)[
        ["param_niso__alpha", "param_niso__beta", "mean_test_score", "std_test_score"]
    ]
    print(table.sort_values("mean_test_score", ascending=False).to_string(index=False))
    print("best:", search.best_params_)

    model = search.best_estimator_
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "niso_pipeline.joblib")
        joblib.dump(model, path)
        print(f"saved {os.path.getsize(path) / 1e6:.1f} MB")
        reloaded = joblib.load(path)
    same = np.array_equal(reloaded.predict_proba(test_x), model.predict_proba(test_x))
    print(f"reloaded predictions bit-identical: {same}")
    print(f"clean test accuracy of the best pipeline: {model.score(test_x, test_y):.3f}")


if __name__ == "__main__":
    main()
