"""Classic baselines on pixels: a random forest, and one on principal components (PCA fit on the
training part only, so nothing of the test set leaks into the features). The reference project
had a random forest; scikit-learn does the work, this module only names and scores the recipes."""
from __future__ import annotations

import time

from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline

from qd import evaluate


def random_forest(n_estimators: int = 100, seed: int = 0) -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators, n_jobs=-1, random_state=seed)


def pca_forest(n_components: int = 50, n_estimators: int = 100, seed: int = 0):
    return make_pipeline(PCA(n_components, random_state=seed), random_forest(n_estimators, seed))


def fit_and_score(name: str, est, sp, protocol: str, **extra):
    """Fit a scikit-learn classifier on flattened pixels of a split; (fitted estimator, report row)."""
    t = time.perf_counter()
    est.fit(sp.X_train.reshape(len(sp.X_train), -1), sp.y_train)
    secs = time.perf_counter() - t
    predict = lambda X: est.predict_proba(X.reshape(len(X), -1))  # noqa: E731
    row = evaluate.summary_row(name, predict(sp.X_test), sp.y_test, len(sp.classes), len(sp.y_train), secs,
                               protocol, evaluate.time_predict(predict, sp.X_test), None, **extra)
    return est, row
