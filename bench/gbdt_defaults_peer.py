#!/usr/bin/python3
"""XGBoost peer for bench/gbdt_defaults.ts (one thread: small data): 5-fold CV on the folds the bench gives (one digit per
row), with XGBoost's defaults and with each setting of a small tuned grid; prints one JSON line with
the default's mean loss and the best grid setting's (RMSE for regression, log loss otherwise)."""
import itertools, json, sys
import numpy as np
import xgboost as xgb

xpath, ypath, rows, cols, task, classes, folds = sys.argv[1:8]
rows, cols, classes = int(rows), int(cols), int(classes)
X = np.fromfile(xpath, dtype=np.float32).reshape(rows, cols)
y = np.fromfile(ypath, dtype=np.float32)
fold = np.array([int(c) for c in folds])

def make(**kw):
    if task == "regression":
        return xgb.XGBRegressor(n_jobs=1, tree_method="hist", **kw)
    return xgb.XGBClassifier(n_jobs=1, tree_method="hist", **kw)

def cv(**kw):
    loss, acc = 0.0, 0.0
    for f in range(5):
        tr, te = fold != f, fold == f
        m = make(**kw).fit(X[tr], y[tr].astype(int) if task != "regression" else y[tr])
        if task == "regression":
            loss += float(np.sqrt(np.mean((m.predict(X[te]).astype(np.float64) - y[te]) ** 2))) / 5
        else:
            p = np.clip(m.predict_proba(X[te]).astype(np.float64), 1e-15, 1 - 1e-15)
            t = y[te].astype(int)
            loss += float(-np.mean(np.log(p[np.arange(len(t)), t]))) / 5
            acc += float(np.mean(p.argmax(1) == t)) / 5
    return {"loss": loss, "accuracy": acc if task != "regression" else None, "trees": kw.get("n_estimators", 100)}

grid = []
for depth, (lr, n), sample, mcw in itertools.product([2, 3, 4, 6], [(0.1, 100), (0.05, 300), (0.03, 600)], [1.0, 0.8], [1, 3]):
    grid.append(dict(max_depth=depth, learning_rate=lr, n_estimators=n, subsample=sample, colsample_bytree=sample, min_child_weight=mcw))
best = None
for kw in grid:
    s = cv(**kw)
    if best is None or s["loss"] < best["loss"]:
        best = dict(s, params=json.dumps(kw, separators=(",", ":")))
print(json.dumps({"default": cv(), "tuned": best}))
