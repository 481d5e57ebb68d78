"""lnmc side by side with the upstream pipeline (bench/reference.py): the driver of bench/run.

usage: compare.py [--runs 3] [--epochs 4] [--work target/bench] [--n 6691]

Generates the upstream-sized synthetic set with `lnmc synth --n 6691`, then, for each run i,
trains with seed i in both programs on the same data, the same split (upstream's) and the same
number of threads, alternating which goes first. Every process is timed and its peak RSS read
with wait4. Prints one table (median and min–max over the runs, ratio lnmc / reference) and
writes every raw number to WORK/results.json.
"""
import argparse
import csv
import json
import os
import pty
import select
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LNMC = os.path.join(ROOT, "target", "release", "lnmc")
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
N, SIDE = 6691, 64


def run(cmd, cwd):
    """Runs cmd and returns (stdout, wall seconds, peak RSS in MiB) of that process alone."""
    out_path = os.path.join(cwd, ".stdout")
    err_path = os.path.join(cwd, ".stderr")
    start = time.perf_counter()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {open(err_path).read()}")
    return open(out_path).read(), wall, usage.ru_maxrss / 1024


def conv_flops(size, cin, cout):
    return size * size * cout * cin * 9 * 2


def flops_per_sample():
    """Multiply-adds ×2 of the ConvNet on a 64×64 patch: (forward, training step)."""
    convs = [(SIDE, 1, 32), (SIDE, 32, 32), (SIDE // 2, 32, 64), (SIDE // 2, 64, 64)]
    forward = sum(conv_flops(*c) for c in convs) + 64 * 2 * 2
    # Backward: gradients of weights and of inputs, each as costly as the forward; conv1's
    # input (the image) needs none.
    return forward, 3 * forward - conv_flops(*convs[0])


def fp32_peak(threads):
    """FLOP/s of a large libtorch sgemm (the wheel's own kernels), best of 5."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    torch.mm(a, b)
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * 2048**3 / (time.perf_counter() - start))
    return best


def first_frame(data, cwd):
    """Seconds from starting `lnmc` in a 160×48 pseudo-terminal to its first complete frame
    (the footer's key hints are the last line drawn)."""
    import fcntl
    import struct
    import termios

    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.environ["TERM"] = "xterm-256color"
        os.execv(LNMC, [LNMC, "--data", data, "--image-protocol", "halfblocks"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    seen, elapsed = b"", None
    while elapsed is None:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        seen += chunk
        if b"quit" in seen:
            elapsed = time.perf_counter() - start
    os.write(fd, b"q")
    deadline = time.time() + 10
    while time.time() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if select.select([fd], [], [], 0.1)[0]:
            try:
                os.read(fd, 65536)
            except OSError:
                pass
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    os.close(fd)
    if elapsed is None:
        sys.exit("lnmc drew no frame within 30 s")
    return elapsed


def lnmc_run(data, work, seed, epochs):
    name = f"bench-{seed}"
    for sub in ("runs", "checkpoint"):
        subprocess.run(["rm", "-rf", os.path.join(work, sub, name)], check=True)
    out, wall, rss_train = run(
        [LNMC, "train", "--headless", "--data", data, "--epochs", str(epochs), "--seed",
         str(seed), "--split", "upstream", "--device", "cpu", "--run", name],
        work,
    )
    prepare = float(out.split("data ready in ")[1].split("s")[0])
    with open(os.path.join(work, "runs", name, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    train = json.load(open(os.path.join(work, "runs", name, "config.json")))["train_samples"]
    ckpt = os.path.join(work, "checkpoint", name, "best.safetensors")
    out, _, rss_eval = run(
        [LNMC, "eval", "--checkpoint", ckpt, "--data", data, "--split", "all", "--json"], work
    )
    evaluation = json.loads(out)
    epochs_after_warmup = rows[1:]
    return {
        "prepare_seconds": prepare,
        "train_samples_per_s": train * len(epochs_after_warmup)
        / sum(train / float(r["samples_per_s"]) for r in epochs_after_warmup),
        "epoch_seconds": statistics.mean(float(r["seconds"]) for r in epochs_after_warmup),
        "eval_samples_per_s": evaluation["samples_per_second"],
        "peak_rss_mib": max(rss_train, rss_eval),
        "final_val_acc": float(rows[-1]["val_acc"]),
        "wall_seconds": wall,
    }


def reference_run(data, work, seed, epochs, threads):
    out, wall, rss = run(
        [PYTHON, os.path.join(ROOT, "bench", "reference.py"), "--data", data, "--epochs",
         str(epochs), "--seed", str(seed), "--threads", str(threads), "--out",
         os.path.join(work, f"reference-{seed}")],
        work,
    )
    r = json.loads(out)
    after_warmup = r["epochs"][1:]
    train = r["epochs"][0]["samples_per_s"] * r["epochs"][0]["train_seconds"]
    return {
        "prepare_seconds": r["prepare_seconds"],
        "train_samples_per_s": train * len(after_warmup)
        / sum(e["train_seconds"] for e in after_warmup),
        "epoch_seconds": statistics.mean(e["seconds"] for e in after_warmup),
        "eval_samples_per_s": r["inference_samples"] / r["inference_seconds"],
        "peak_rss_mib": rss,
        "final_val_acc": r["final_val_acc"],
        "wall_seconds": wall,
    }


def spread(values, fmt):
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4, help="the first one is the warm-up")
    ap.add_argument("--work", default=os.path.join(ROOT, "target", "bench"))
    ap.add_argument("--n", type=int, default=N, help="patches (upstream has 6691)")
    args = ap.parse_args()
    if args.epochs < 2:
        sys.exit("--epochs must be at least 2: one warm-up, then the measured ones")
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    threads = os.cpu_count()
    data = os.path.join(work, f"synthetic_{args.n}.hdf5")
    if not os.path.exists(data):
        run([LNMC, "synth", "--out", data, "--n", str(args.n), "--seed", "0"], work)
    cpu = next(
        (l.split(":", 1)[1].strip() for l in subprocess.run(
            ["lscpu"], capture_output=True, text=True).stdout.splitlines()
         if l.startswith("Model name")),
        "unknown CPU",
    )
    print(f"{cpu}, {threads} threads; {args.n} synthetic patches; {args.epochs} epochs "
          f"(1 warm-up); {args.runs} runs each, alternating", flush=True)

    results = {"lnmc": [], "reference": []}
    for i in range(args.runs):
        order = ["lnmc", "reference"] if i % 2 == 0 else ["reference", "lnmc"]
        for program in order:
            if program == "lnmc":
                r = lnmc_run(data, work, i, args.epochs)
            else:
                r = reference_run(data, work, i, args.epochs, threads)
            results[program].append(r)
            print(f"run {i + 1}/{args.runs} {program:<9} " + " ".join(
                f"{k}={v:.4g}" for k, v in r.items()), flush=True)

    frames = [first_frame(data, work) for _ in range(5)]
    forward, step = flops_per_sample()
    peak = fp32_peak(threads)
    lnmc_rate = statistics.median(r["train_samples_per_s"] for r in results["lnmc"])
    ref_rate = statistics.median(r["train_samples_per_s"] for r in results["reference"])

    rows = [
        ("prepare: HDF5 → normalised tensors (s)", "prepare_seconds", "{:.2f}", True),
        ("training throughput (samples/s)", "train_samples_per_s", "{:.1f}", False),
        ("wall per epoch incl. validation (s)", "epoch_seconds", "{:.1f}", True),
        (f"inference over all {args.n} (samples/s)", "eval_samples_per_s", "{:.0f}", False),
        ("peak RSS (MiB)", "peak_rss_mib", "{:.0f}", True),
        ("final val accuracy (%)", "final_val_acc", "{:.2f}", None),
    ]
    print()
    print("| measure | lnmc | reference | lnmc vs reference |")
    print("| --- | --- | --- | --- |")
    for title, key, fmt, lower_is_better in rows:
        scale = 100 if key == "final_val_acc" else 1
        ours = [r[key] * scale for r in results["lnmc"]]
        theirs = [r[key] * scale for r in results["reference"]]
        m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
        if lower_is_better is None:
            versus = f"{m_ours - m_theirs:+.2f} points"
        elif lower_is_better:
            versus = f"{m_theirs / m_ours:.2f}× {'faster' if 'RSS' not in title else 'smaller'}"
        else:
            versus = f"{m_ours / m_theirs:.2f}× faster"
        f = lambda v: fmt.format(v)
        print(f"| {title} | {spread(ours, f)} | {spread(theirs, f)} | {versus} |")
    print()
    print(f"lnmc start to first frame (160×48 pty, halfblocks, 5 starts): "
          f"{spread([t * 1000 for t in frames], lambda v: f'{v:.0f}')} ms")
    print(f"fp32 peak (2048² sgemm, libtorch, {threads} threads): {peak / 1e9:.1f} GFLOP/s; "
          f"ConvNet {forward / 1e6:.1f} MFLOP forward, {step / 1e6:.1f} MFLOP per training sample")
    print(f"training reaches {100 * lnmc_rate * step / peak:.1f} % of that peak in lnmc, "
          f"{100 * ref_rate * step / peak:.1f} % in the reference")
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({"cpu": cpu, "threads": threads, "epochs": args.epochs, "results": results,
                   "first_frame_seconds": frames, "fp32_peak_flops": peak,
                   "flops_forward": forward, "flops_training_step": step}, f, indent=1)


if __name__ == "__main__":
    main()
