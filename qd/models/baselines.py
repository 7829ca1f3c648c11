"""Classic baselines on pixels: a random forest, and one on principal components (PCA fit on the
training part only, so nothing of the test set leaks into the features). The reference project
had a random forest; scikit-learn does the work, this module only names the recipes
(`qd.report.scoring.sklearn_row` scores them)."""
from __future__ import annotations

from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline


def random_forest(n_estimators: int = 100, seed: int = 0) -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators, n_jobs=-1, random_state=seed)


def pca_forest(n_components: int = 50, n_estimators: int = 100, seed: int = 0):
    return make_pipeline(PCA(n_components, random_state=seed), random_forest(n_estimators, seed))
