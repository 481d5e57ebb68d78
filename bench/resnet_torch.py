"""lnmc's ResNet written for speed in PyTorch: the same network (3×3 stem, four stages of two
basic blocks, 16–128 channels, GAP, dropout, fc), the same Adam with weight decay and batch,
the data normalised once into one tensor, ReLU and the residual sum in place (as torchvision), channels-last, bf16 autocast where the CPU computes
bf16 natively (AMX-BF16 / AVX512-BF16), as issue 32 asks. Prints training samples/s of each
epoch (the training loop alone, as lnmc's samples_per_s).

usage: resnet_torch.py DATA.h5 EPOCHS THREADS [SEED]
"""
import os, sys, time

import h5py, numpy as np, torch
from torch import nn

data, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
torch.set_num_threads(threads)
torch.manual_seed(seed)
flags = open("/proc/cpuinfo").read()
bf16 = (" amx_bf16" in flags or " avx512_bf16" in flags) and os.environ.get("PRECISION") != "fp32"


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        s = x if self.down is None else self.down(x)
        y = torch.relu_(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        y += s  # in place, as torchvision's BasicBlock
        return torch.relu_(y)


class ResNet(nn.Module):
    def __init__(self, channels=1, dropout=0.3):
        super().__init__()
        self.stem = nn.Conv2d(channels, 16, 3, 1, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for stage, w in enumerate([16, 32, 64, 128]):
            for b in range(2):
                blocks.append(Block(cin, w, 2 if stage > 0 and b == 0 else 1))
                cin = w
        self.blocks = nn.Sequential(*blocks)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(128, 2)

    def forward(self, x):
        x = torch.relu_(self.stem_bn(self.stem(x)))
        x = self.blocks(x).mean((2, 3))
        return self.fc(self.drop(x.float()))


f = h5py.File(data, "r")
x = torch.tensor(f["ct_slices"][:], dtype=torch.float32)[:, None]
y = torch.tensor(f["slice_class"][:].reshape(-1), dtype=torch.long)
x = (2 * x.clamp(0, 255) / 255 - 1).contiguous(memory_format=torch.channels_last)
n = len(x)
train = torch.randperm(n)[: int(0.8 * n)]
model = ResNet().to(memory_format=torch.channels_last)
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=3e-4)
loss_fn = nn.CrossEntropyLoss()
print(f"torch {torch.__version__} · {threads} threads · {'bf16 autocast' if bf16 else 'fp32'} · {len(train)} training patches")
for epoch in range(1, epochs + 1):
    model.train()
    order = train[torch.randperm(len(train))]
    start = time.perf_counter()
    for i in range(0, len(order), 64):
        idx = order[i : i + 64]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x[idx])
        loss = loss_fn(out.float(), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    print(f"epoch {epoch} {len(order) / seconds:.1f} samples/s")
