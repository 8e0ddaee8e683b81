#!/usr/bin/python3
"""scikit-learn peer for bench/dnn_defaults.ts: 5-fold CV (KFold or StratifiedKFold, shuffle=True,
random_state=0) of StandardScaler + linear/logistic regression, the default MLP, and an MLP (64, 32)
with early_stopping=True, on a CSV (label column given; 'no'/'yes' labels for binary). Prints one
JSON line: RMSE (regression) or log loss (binary) per model."""
import csv, json, sys, warnings
import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings('ignore')
path, label, task = sys.argv[1:4]
rows = list(csv.DictReader(open(path)))
cols = [c for c in rows[0] if c != label]
X = np.array([[float(r[c]) for c in cols] for r in rows])
if task == 'binary':
    y = np.array([1 if r[label] == 'yes' else 0 for r in rows])
    folds, scoring = StratifiedKFold(5, shuffle=True, random_state=0), 'neg_log_loss'
    models = {'linear': LogisticRegression(), 'mlp': MLPClassifier(random_state=0, max_iter=500), 'mlp_es': MLPClassifier((64, 32), early_stopping=True, random_state=0, max_iter=1000)}
else:
    y = np.array([float(r[label]) for r in rows])
    folds, scoring = KFold(5, shuffle=True, random_state=0), 'neg_root_mean_squared_error'
    models = {'linear': LinearRegression(), 'mlp': MLPRegressor(random_state=0, max_iter=500), 'mlp_es': MLPRegressor((64, 32), early_stopping=True, random_state=0, max_iter=1000)}
print(json.dumps({name: float(-cross_val_score(make_pipeline(StandardScaler(), m), X, y, cv=folds, scoring=scoring).mean()) for name, m in models.items()}))
