"""The upstream LNMC pipeline, as its Python scripts run it, timed: lnmc's yardstick.

usage: reference.py --data FILE --epochs E --seed S --threads T --out DIR

Faithful to upstream's read_dataset.py → data_augment.py → split_dataset.py → train.py →
F1_score.py, with its bugs fixed the way lnmc fixes them (every patch rescaled, not only the
first; accuracy over the samples actually seen) so that both programs do the same work:

  h5py read of ct_slices / slice_class
  per patch: np.percentile(2, 98) + skimage's rescale_intensity to [-1, 1] (written out)
  sklearn train_test_split(test_size=0.2, random_state=42) (its numpy permutation)
  DataLoader(TensorDataset, batch_size=64, shuffle=True, num_workers=0)
  ConvNet, Adam(lr, weight_decay), CrossEntropyLoss, loss.item() per batch as upstream
  per-epoch validation under no_grad, torch.save(state_dict) of the best epoch
  inference over the whole set, batch 64, as F1_score.py does on the val set

Prints one JSON object: prepare seconds, per-epoch train seconds and wall seconds, samples/s,
final and best val accuracy, inference seconds over the whole set.
"""
import argparse
import csv
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class ConvNet(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding="same")
        self.conv2 = nn.Conv2d(32, 32, 3, padding="same")
        self.conv3 = nn.Conv2d(32, 64, 3, padding="same")
        self.conv4 = nn.Conv2d(64, 64, 3, padding="same")
        self.fc = nn.Linear(64, 2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = self.dropout(F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2))
        x = self.dropout(F.max_pool2d(F.relu(self.conv4(F.relu(self.conv3(x)))), 2))
        return self.fc(x.mean(dim=(2, 3)))


def rescale(patch):
    lo, hi = np.percentile(patch, (2, 98))
    if hi <= lo:
        return np.zeros(patch.shape)
    return (np.clip(patch, lo, hi) - lo) / (hi - lo) * 2 - 1


def prepare(path):
    if path.endswith(".npz"):  # `lnmc synth --out FILE.npz`, for a Python without h5py
        with np.load(path) as f:
            images, labels = f["ct_slices"], f["slice_class"].reshape(-1)
    else:
        import h5py  # here, so that lnmc's tests can import ConvNet without h5py

        with h5py.File(path, "r") as f:
            images = f["ct_slices"][:]
            labels = f["slice_class"][:].reshape(-1)
    images = np.stack([rescale(p.astype(np.float64)) for p in images])
    perm = np.random.RandomState(42).permutation(len(labels))
    n_val = math.ceil(0.2 * len(labels))
    val, train = perm[:n_val], perm[n_val:]
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(labels, dtype=torch.long)
    return x, y, train, val


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", required=True)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=3e-4)
    ap.add_argument("--dropout", type=float, default=0.3)
    # cuda: the model on the GPU, fed batch by batch from the CPU DataLoader, as upstream does.
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    t = time.perf_counter()
    x, y, train_idx, val_idx = prepare(args.data)
    prepare_seconds = time.perf_counter() - t

    train_loader = DataLoader(
        TensorDataset(x[train_idx], y[train_idx]), batch_size=64, shuffle=True, num_workers=0
    )
    val_loader = DataLoader(TensorDataset(x[val_idx], y[val_idx]), batch_size=64)
    device = torch.device(args.device)
    model = ConvNet(args.dropout).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)

    epochs, best_acc = [], -1.0
    losses = open(os.path.join(args.out, "losses.csv"), "w", newline="")
    writer = csv.writer(losses)
    writer.writerow(["", "train", "val"])
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        model.train()
        running = 0.0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(labels)
        train_seconds = time.perf_counter() - start
        model.eval()
        val_loss, correct = 0.0, 0
        with torch.no_grad():
            for images, labels in val_loader:
                images, labels = images.to(device), labels.to(device)
                out = model(images)
                val_loss += criterion(out, labels).item() * len(labels)
                correct += (out.argmax(1) == labels).sum().item()
        val_acc = correct / len(val_idx)
        if val_acc > best_acc:
            best_acc = val_acc
            torch.save(model.state_dict(), os.path.join(args.out, "best.pth"))
        writer.writerow([epoch, running / len(train_idx), val_loss / len(val_idx)])
        losses.flush()
        epochs.append(
            {
                "epoch": epoch,
                "train_seconds": train_seconds,
                "seconds": time.perf_counter() - start,
                "samples_per_s": len(train_idx) / train_seconds,
                "val_acc": val_acc,
            }
        )
    losses.close()

    model.eval()
    t = time.perf_counter()
    with torch.no_grad():
        for (images,) in DataLoader(TensorDataset(x), batch_size=64):
            model(images.to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()
    inference_seconds = time.perf_counter() - t

    print(
        json.dumps(
            {
                "prepare_seconds": prepare_seconds,
                "epochs": epochs,
                "final_val_acc": epochs[-1]["val_acc"],
                "best_val_acc": best_acc,
                "inference_seconds": inference_seconds,
                "inference_samples": len(y),
                "threads": torch.get_num_threads(),
                "device": str(device),
                "peak_gpu_bytes": torch.cuda.max_memory_allocated() if device.type == "cuda" else 0,
            }
        )
    )


if __name__ == "__main__":
    main()
