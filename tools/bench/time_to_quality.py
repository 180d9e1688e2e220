#!/usr/bin/python3
"""Time to quality: held-out bits/dim against training wall time, nflow and the PyTorch
peer (tools/torch/glow_fm.py) training the same Glow on the same batches.

    tools/bench/time_to_quality.py --build build --out ttq          # README's recipe, 3000 steps
    tools/bench/time_to_quality.py --build build --out ttq_short --steps 60 --eval-every 20 --val-size 1000

One after the other, with --threads each (default 2):
  1. nflow train, README's Fashion-MNIST recipe (Glow L=2 K=8 hidden 64, batch 64, Adam
     1e-3 cosine to 1e-5 with 100 warm-up steps, gradient norm clipped at 5e4), seed
     --seed, evaluating the first --val-size test images every --eval-every steps
     (--val-every), with --dump OUT/dump: its initial model, every batch it trained on and
     the held-out samples as it evaluated them. No environment variable is set for it
     (OMP_*, OPENBLAS_NUM_THREADS and the malloc variables removed; --threads).
  2. the peer (glow_fm.py train): the same model from OUT/dump/init.h5, the same
     batches, the same optimiser read from nflow's args.txt, evaluation on the same
     held-out samples at the same steps; ../shared/peers' tuned environment
     (OMP_NUM_THREADS=T, OPENBLAS_NUM_THREADS=1, MALLOC_MMAP_THRESHOLD_=32 MiB,
     MALLOC_TRIM_THRESHOLD_=4 GiB) and torch.set_num_threads(T).
Wall time is training only on both sides: nflow's time_s less its eval_s (metrics.csv),
the peer's timer around its steps. nflow's time also holds writing the dump (printed,
milliseconds for a whole run).

Writes OUT/time_to_quality.csv (system,step,wall_s,test_bpd), OUT/time_to_quality.png
(bits/dim against minutes and against steps) and OUT/summary.txt (OUT/dump/batches.f32,
0.6 GB for 3000 steps, stays for --only torch), and prints each side's
final bits/dim and wall time and the time nflow first reached the peer's final bits/dim
(at an evaluation point: the curve is known only there), as a share of the peer's wall
time (the goal of issue 14: at most 0.5). The load average before and after each run is
printed too: timings mean something only on a quiet machine.

--core-detected removes OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE from both runs'
environment (OpenBLAS picks its kernels for the CPU; some environments force Haswell's);
off by default. --only nflow|torch|report reruns one part on an existing OUT.
Needs /usr/bin/python3 with python3-torch, python3-h5py, python3-numpy and
python3-matplotlib, and Debian's dataset-fashion-mnist unless --data names a file.
"""
import argparse
import csv
import os
import subprocess
import sys
import time

import run_env

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PEER = os.path.join(ROOT, "tools", "torch", "glow_fm.py")
RECIPE = ["--levels", "2", "--depth", "8", "--hidden", "64", "--batch", "64", "--lr", "1e-3", "--schedule", "cosine",
          "--lr-min", "1e-5", "--warmup", "100", "--clip", "5e4"]


def load():
    return open("/proc/loadavg").read().split()[:3]


def run_logged(cmd, env, log):
    print("$ " + " ".join(cmd), flush=True)
    before = load()
    print(f"  load average before: {' '.join(before)}", flush=True)
    if float(before[0]) > 0.5:
        print("  warning: the machine is not quiet; the wall times of this run say little (PyTorch's OpenMP "
              "threads suffer most from a shared core)", flush=True)
    t = time.time()
    with open(log, "w") as f:
        p = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT)
    print(f"  exit {p.returncode} after {time.time() - t:.0f} s (log {log}); load average after: {' '.join(load())}",
          flush=True)
    if p.returncode != 0:
        sys.exit(f"time_to_quality.py: {cmd[0]} failed (exit {p.returncode}); see {log}")


def run_nflow(a):
    data = a.data
    if not data:
        data = os.path.join(a.out, "fmnist.h5")
        if not os.path.exists(data):
            subprocess.run([os.path.join(a.build, "nflow"), "data", "fashion-mnist", "--out", data], check=True)
    env = run_env.nflow_env(a.core_detected)
    cmd = [os.path.join(a.build, "nflow"), "train", "--data", f"{data}:/train/x", "--val", f"{data}:/test/x",
           "--val-size", str(a.val_size), "--val-every", str(a.eval_every)] + RECIPE + [
           "--steps", str(a.steps), "--seed", str(a.seed), "--threads", str(a.threads), "--no-plots", "--no-gif",
           "--out", os.path.join(a.out, "nflow"), "--dump", os.path.join(a.out, "dump")] + a.extra.split()
    run_logged(cmd, env, os.path.join(a.out, "nflow.log"))


def run_torch(a):
    env = run_env.peer_env(a.threads, a.core_detected)
    cmd = ["/usr/bin/python3", PEER, "train", "--nflow-run", os.path.join(a.out, "nflow"), "--out",
           os.path.join(a.out, "torch"), "--threads", str(a.threads)]
    run_logged(cmd, env, os.path.join(a.out, "torch.log"))


def nflow_curve(out):
    """(step rows [(step, wall_s, train bpd)], evaluations [(step, wall_s, bpd)]) of nflow's run."""
    rows = list(csv.DictReader(open(os.path.join(out, "nflow", "metrics.csv"))))
    wall = {}
    steps = []
    for r in rows:
        if r["loss"]:
            w = float(r["time_s"]) - float(r["eval_s"])
            wall[int(r["step"])] = w
            steps.append((int(r["step"]), w, float(r["bits_per_dim"])))
    evals = [(int(r["step"]), wall[int(r["step"])], float(r["val_bits_per_dim"])) for r in rows if r["val_loss"]]
    return steps, evals


def torch_curve(out):
    rows = list(csv.DictReader(open(os.path.join(out, "torch", "metrics.csv"))))
    steps = [(int(r["step"]), float(r["wall_s"]), float(r["bits_per_dim"])) for r in rows if r["loss"]]
    evals = [(int(r["step"]), float(r["wall_s"]), float(r["val_bits_per_dim"])) for r in rows if r["val_bits_per_dim"]]
    return steps, evals


def dedupe(evals):
    """One evaluation per step (nflow also validates at epoch ends, which may repeat none)."""
    seen, out = set(), []
    for e in evals:
        if e[0] not in seen:
            seen.add(e[0])
            out.append(e)
    return out


def plot(path, nf, pt, target, reach):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (name, ev, col) in (("nflow", nf, "tab:blue"), ("PyTorch peer", pt, "tab:orange")):
        ax.plot([e[1] / 60 for e in ev], [e[2] for e in ev], "o-", ms=3, color=col, label=name)
        bx.plot([e[0] for e in ev], [e[2] for e in ev], "o-", ms=3, color=col, label=name)
    ax.axhline(target, color="gray", ls="--", lw=1, label=f"peer's final {target:.3f}")
    if reach:
        ax.axvline(reach[1] / 60, color="tab:blue", ls=":", lw=1)
        ax.annotate(f"nflow reaches it at {reach[1] / 60:.1f} min", (reach[1] / 60, target), textcoords="offset points",
                    xytext=(5, 12), fontsize=8, color="tab:blue")
    lo = min(e[2] for e in nf + pt)
    top = sorted(e[2] for e in nf + pt)[min(len(nf + pt) - 1, 2 * len(nf + pt) // 3)]
    for x in (ax, bx):
        x.set_ylabel("test bits/dim")
        x.set_ylim(lo - 0.05, max(top, target) + 0.3)
        x.grid(alpha=0.3)
        x.legend(fontsize=8)
    ax.set_xlabel("training wall time (min), evaluation excluded")
    bx.set_xlabel("step")
    ax.set_title("Fashion-MNIST Glow L=2 K=8 hidden 64: time to quality", fontsize=9)
    bx.set_title("the same against steps (same batches, same initial parameters)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report(a):
    _, nf = nflow_curve(a.out)
    _, pt = torch_curve(a.out)
    nf, pt = dedupe(nf), dedupe(pt)
    if not nf or not pt:
        sys.exit("time_to_quality.py: no evaluations in one of the runs")
    with open(os.path.join(a.out, "time_to_quality.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["system", "step", "wall_s", "test_bpd"])
        for name, ev in (("nflow", nf), ("torch", pt)):
            for s, t, b in ev:
                w.writerow([name, s, f"{t:.3f}", f"{b:.6f}"])
    target, t_peer = pt[-1][2], pt[-1][1]
    reach = next((e for e in nf if e[2] <= target), None)
    lines = [f"nflow:  final test bits/dim {nf[-1][2]:.4f} after {nf[-1][0]} steps, {nf[-1][1]:.1f} s of training",
             f"PyTorch peer: final test bits/dim {pt[-1][2]:.4f} after {pt[-1][0]} steps, {t_peer:.1f} s of training",
             f"wall time ratio over the whole run (nflow / peer): {nf[-1][1] / t_peer:.3f}"]
    if reach:
        ratio = reach[1] / t_peer
        lines.append(f"nflow first reached the peer's final {target:.4f} at step {reach[0]} (evaluated {reach[2]:.4f}) "
                     f"after {reach[1]:.1f} s: {ratio:.3f} of the peer's {t_peer:.1f} s "
                     f"(goal <= 0.5: {'met' if ratio <= 0.5 else 'NOT met'})")
    else:
        best = min(nf, key=lambda e: e[2])
        lines.append(f"nflow never reached the peer's final {target:.4f}: its best, {best[2]:.4f} at step {best[0]} "
                     f"after {best[1]:.1f} s, is {best[2] - target:.4f} above it")
    dump = [l for l in open(os.path.join(a.out, "nflow.log")) if l.startswith("dump:")] if os.path.exists(
        os.path.join(a.out, "nflow.log")) else []
    if dump:
        lines.append("nflow " + dump[0].strip())
    events = [l for l in open(os.path.join(a.out, "nflow", "metrics.jsonl")) if '"type":"rollback"' in l
              or '"type":"recompute"' in l]
    lines.append(f"nflow's guard: {len(events)} rollback or recompute events (the peer has none of these nets)")
    plot(os.path.join(a.out, "time_to_quality.png"), nf, pt, target, reach)
    lines.append(f"wrote {a.out}/time_to_quality.csv, {a.out}/time_to_quality.png")
    text = "\n".join(lines)
    print(text)
    open(os.path.join(a.out, "summary.txt"), "w").write(text + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="holds nflow [ROOT/build]")
    p.add_argument("--out", default="ttq", help="output directory [ttq]")
    p.add_argument("--data", help="Fashion-MNIST as nflow data fashion-mnist writes it [converted into OUT]")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--val-size", type=int, default=10000, help="test images evaluated [all 10000]")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--extra", default="", help="more nflow train flags (the peer follows its args.txt)")
    p.add_argument("--core-detected", action="store_true",
                   help="remove OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE from both runs' environment")
    p.add_argument("--only", choices=["nflow", "torch", "report"], help="run one part on an existing OUT")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.only != "report":
        print(f"time_to_quality.py: {a.steps} steps, evaluation every {a.eval_every} on {a.val_size} test images, "
              f"{a.threads} threads each; OPENBLAS_CORETYPE="
              f"{'(removed)' if a.core_detected else os.environ.get('OPENBLAS_CORETYPE', '(unset)')}", flush=True)
    if a.only in (None, "nflow"):
        run_nflow(a)
    if a.only in (None, "torch"):
        run_torch(a)
    report(a)


if __name__ == "__main__":
    main()
