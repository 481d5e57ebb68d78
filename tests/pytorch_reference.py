"""Reference numbers from numpy and PyTorch for lnmc's tests, computed the upstream way.

usage: pytorch_reference.py RAW.npy NORMALISED_OUT.npy [CHECKPOINT.pth LOGITS_OUT.npy]

RAW.npy holds (N, H, W) float32 raw intensities. Writes the per-patch 2–98 percentile
rescale to [-1, 1] (np.percentile + skimage's rescale_intensity formula, float64), and, given
a checkpoint, the logits of the upstream ConvNet loaded from it with torch.load on the CPU.
"""
import os
import sys

import numpy as np

raw = np.load(sys.argv[1]).astype(np.float64)
out = np.empty(raw.shape, dtype=np.float32)
for i, patch in enumerate(raw):
    lo, hi = np.percentile(patch, (2, 98))
    if hi > lo:
        out[i] = (np.clip(patch, lo, hi) - lo) / (hi - lo) * 2 - 1
    else:
        out[i] = 0
np.save(sys.argv[2], out)

if len(sys.argv) > 3:
    import torch

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
    from reference import ConvNet  # the one Python definition of the upstream model

    torch.set_num_threads(1)
    net = ConvNet(dropout=0.0)
    net.load_state_dict(torch.load(sys.argv[3], map_location="cpu"))
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(out).unsqueeze(1))
    np.save(sys.argv[4], logits.numpy().astype(np.float32))
