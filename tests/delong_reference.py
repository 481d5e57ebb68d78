"""An independent DeLong test for tests/paired.rs: the fast algorithm of Sun & Xu (2014),
written with numpy alone from the paper's equations, its p-value from math.erfc.

usage: delong_reference.py labels.npy scores_a.npy scores_b.npy  -> one JSON line
"""
import json
import math
import sys

import numpy as np


def midrank(x):
    """Midranks, 1-based: tied values share the mean of their positions."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    n = len(x)
    ranks_sorted = np.zeros(n)
    i = 0
    while i < n:
        j = i
        while j < n and xs[j] == xs[i]:
            j += 1
        ranks_sorted[i:j] = 0.5 * (i + j - 1) + 1
        i = j
    ranks = np.empty(n)
    ranks[order] = ranks_sorted
    return ranks


def delong(labels, scores):
    """scores: k × N. Returns the k AUCs and their k × k covariance."""
    pos = labels == 1
    m, n = int(pos.sum()), int((~pos).sum())
    x, y = scores[:, pos], scores[:, ~pos]
    k = scores.shape[0]
    tx = np.stack([midrank(x[r]) for r in range(k)])
    ty = np.stack([midrank(y[r]) for r in range(k)])
    tz = np.stack([midrank(np.concatenate([x[r], y[r]])) for r in range(k)])
    aucs = tz[:, :m].sum(axis=1) / m / n - (m + 1.0) / 2.0 / n
    v01 = (tz[:, :m] - tx) / n
    v10 = 1.0 - (tz[:, m:] - ty) / m
    cov = np.cov(v01) / m + np.cov(v10) / n
    return aucs, cov


labels = np.load(sys.argv[1]).astype(np.int64)
a = np.load(sys.argv[2]).astype(np.float64)
b = np.load(sys.argv[3]).astype(np.float64)
aucs, cov = delong(labels, np.stack([a, b]))
var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
z = (aucs[0] - aucs[1]) / math.sqrt(var)
p = math.erfc(abs(z) / math.sqrt(2))
print(json.dumps({
    "auc": aucs.tolist(),
    "variance": [cov[0, 0], cov[1, 1]],
    "covariance": cov[0, 1],
    "z": z,
    "p": p,
}))
