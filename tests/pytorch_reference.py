"""Reference numbers from numpy and PyTorch for lnmc's tests, computed the upstream way.

usage: pytorch_reference.py RAW.npy NORMALISED_OUT.npy [CHECKPOINT.pth LOGITS_OUT.npy]

RAW.npy holds (N, H, W) float32 raw intensities. Writes the per-patch 2–98 percentile
rescale to [-1, 1] (np.percentile + skimage's rescale_intensity formula, float64), and, given
a checkpoint, the logits of the upstream ConvNet loaded from it with torch.load on the CPU.
"""
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
    import torch.nn as nn
    import torch.nn.functional as F

    class ConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, padding="same")
            self.conv2 = nn.Conv2d(32, 32, 3, padding="same")
            self.conv3 = nn.Conv2d(32, 64, 3, padding="same")
            self.conv4 = nn.Conv2d(64, 64, 3, padding="same")
            self.fc = nn.Linear(64, 2)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            x = F.max_pool2d(F.relu(self.conv4(F.relu(self.conv3(x)))), 2)
            return self.fc(x.mean(dim=(2, 3)))

    torch.set_num_threads(1)
    net = ConvNet()
    net.load_state_dict(torch.load(sys.argv[3], map_location="cpu"))
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(out).unsqueeze(1))
    np.save(sys.argv[4], logits.numpy().astype(np.float32))
