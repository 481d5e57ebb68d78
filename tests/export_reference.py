"""The README's lines for an exported lnmc model, run in plain PyTorch and checked against
lnmc's own probabilities: python export_reference.py model.pt data.h5 predictions.csv.
Prints the largest difference in P(malignant); exits 1 above 1e-5."""
import csv, json, sys

import h5py, numpy as np, torch

model_path, data_path, predictions = sys.argv[1:4]
# --- as in the README ---
m = torch.jit.load(model_path)
about = json.load(open(model_path[:-3] + ".json"))
f = h5py.File(data_path, "r")
x = torch.tensor(f["ct_slices"][:], dtype=torch.float64)[:, None]  # (N, 1, H, W)
lo, hi = about["intensity_low"], about["intensity_high"]            # intensity_kind "window"
if about["intensity_kind"] == "percentile":                         # each slice its own window
    q = np.percentile(x.numpy().reshape(len(x), -1), (lo, hi), axis=1)
    lo, hi = (torch.tensor(v).view(-1, 1, 1, 1) for v in q)
x = (2 * (torch.minimum(torch.maximum(x, lo + 0 * x), hi + 0 * x) - lo) / (hi - lo) - 1)
x = torch.nan_to_num(x, nan=0.0).float()                             # a constant slice gives 0
# --- context: each row with its nodule's nearest rows (edges repeat), as lnmc gives them ---
k = about["context"]
if k > 1:
    ids = f["nodule_id"][:]
    rows = []
    for r in range(len(ids)):
        members = np.flatnonzero(ids == ids[r])
        at = int(np.searchsorted(members, r))
        rows.append([members[min(max(at + o, 0), len(members) - 1)] for o in range(-(k // 2), k // 2 + 1)])
    x = x[torch.tensor(rows)].squeeze(2)                             # (N, K, H, W)
with torch.no_grad():
    p = torch.cat([m(b).softmax(1)[:, 1] for b in x.split(256)]).double()
# ---
lnmc = {int(r["index"]): float(r["p_malignant"]) for r in csv.DictReader(open(predictions))}
worst = max(abs(p[i].item() - v) for i, v in lnmc.items())
print(f"{len(lnmc)} patches, largest |ΔP| {worst:.2e}")
sys.exit(0 if worst < 1e-5 else 1)
