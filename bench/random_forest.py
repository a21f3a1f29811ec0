"""The notebook's reference model on the rows the train stage uses: scikit-learn's random forest.

Run by bench/training.ts under Debian's /usr/bin/python3 (python3-sklearn):
  random_forest.py <train.csv> <test.csv> <n_jobs> <random_state> <repeats>
Each CSV has a header of feature names then `label`; an empty cell is a missing value, filled with 0
as the notebook fills them (fillna(0)). Fits `repeats` times (the same forest each time: the seed is
fixed) and prints one JSON line: the fastest times in milliseconds and the held-out AUC.
"""
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score


def load(path):
    data = np.genfromtxt(path, delimiter=",", skip_header=1, missing_values="", filling_values=np.nan)
    features, labels = data[:, :-1], data[:, -1].astype(int)
    return np.nan_to_num(features, nan=0.0), labels


def main():
    train_path, test_path = sys.argv[1], sys.argv[2]
    n_jobs, random_state, repeats = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    x_train, y_train = load(train_path)
    x_test, y_test = load(test_path)
    fit_ms, fit_predict_ms = [], []
    for _ in range(repeats):
        forest = RandomForestClassifier(n_estimators=100, random_state=random_state, n_jobs=n_jobs)
        started = time.perf_counter()
        forest.fit(x_train, y_train)
        fitted = time.perf_counter()
        scores = forest.predict_proba(x_test)[:, 1]
        predicted = time.perf_counter()
        fit_ms.append((fitted - started) * 1000)
        fit_predict_ms.append((predicted - started) * 1000)
    print(json.dumps({
        "sklearnVersion": sklearn.__version__,
        "nJobs": n_jobs,
        "trainRows": int(len(y_train)),
        "testRows": int(len(y_test)),
        "repeats": repeats,
        "fitMs": round(min(fit_ms)),
        "fitPredictMs": round(min(fit_predict_ms)),
        "auc": float(roc_auc_score(y_test, scores)),
    }))


if __name__ == "__main__":
    main()
