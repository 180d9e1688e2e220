#!/usr/bin/python3
"""nflow's image Glow in PyTorch, trained the way an `nflow train --dump DIR` run was.

    glow_fm.py train --nflow-run RUN --out OUT [--threads T] [--steps N] [--eval-every N]
    glow_fm.py check --nflow-run RUN [--steps N] [--tol 1e-4]

RUN is the output directory of an `nflow train ... --dump DIR` run. Everything the peer
needs comes from it, so the two sides cannot drift apart by a mistyped flag:
  * the architecture and the initial parameters from DIR/init.h5 (nflow's model file of
    the flow as built, before ActNorm's data-dependent initialisation), read by name;
  * the batches, in order, exactly as nflow's steps saw them (dequantised with nflow's
    noise), from DIR/batches.f32; the held-out samples with the noise every nflow
    validation draws, from DIR/val.f32; bits/dim with nflow's offset, from DIR/dump.json;
  * the optimiser from RUN/args.txt: Adam (betas 0.9, 0.999, eps 1e-8, bias-corrected as
    nflow's nf_adam_step), nflow's schedule (nf_schedule_lr: linear warm-up from lr/warmup,
    then cosine to lr-min over the steps after it), the gradient 2-norm over all trainable
    parameters clipped to --clip (scaled by clip/norm when above it: nf_clip_grad_norm) on
    the loss in nats per sample, batch mean.

The model (nflow's Glow, src/flows/glow_build.c): per level a 2x2 squeeze (channel block
k = x[:, :, dh::2, dw::2] for (dw, dh) = (0,0), (1,0), (0,1), (1,1)), K steps of ActNorm
(y = exp(logs) x + b; data-dependent init on the first batch: sd = sqrt(biased var) +
1e-6, logs = -log sd, b = -mean / sd), LU 1x1 convolution (W = P L (U + diag(sign
exp(logs))), W row perm[i] = (L U') row i) and affine coupling (xa = the first c/2
channels, xb = the rest; (raw, t) = NN(xb), NN = conv3x3+b, ReLU, conv1x1+b, ReLU,
conv3x3+b; s = eps + (1 - eps) sigmoid(raw + 2), eps = the model's coupling_min_scale;
ya = s xa + t), then, but at the last level, the second half of the channels is factored
out. Loss = mean_b (0.5 |z_b|^2 - logdet_b) in nats per sample, 2 pi term left out.
nflow's safety nets (the rebuild guard, the loss-jump watch and its rollbacks) have no
counterpart: `train` reports whether nflow's run used one (metrics.jsonl events).

`train` writes OUT/metrics.csv (system,step,loss,bits_per_dim,lr,grad_norm,wall_s,
val_bits_per_dim): wall_s is the wall time of the training steps only (reading the
batch, ActNorm's init, forward, backward, clip, Adam), evaluations excluded. Plain
autograd (activations stored), the fastest way to train this model in PyTorch.

`check` is the architecture test (tests/scripts/test_torch_glow_fm.sh): from init.h5 and
batch 1, the first step's loss must equal nflow's (metrics.csv) to --tol relative; with
RUN/model.h5 (nflow's trained parameters) the held-out loss on val.f32 must equal nflow's
last validation to --tol; then the peer trains --steps steps (default: all dumped) on the
same batches and reports how far its losses drift from nflow's.

Run with Debian's interpreter (/usr/bin/python3 sees python3-torch); threads: --threads
(torch.set_num_threads) and OMP_NUM_THREADS=T OPENBLAS_NUM_THREADS=1 in the environment,
as ../shared/peers/README.md's tuned profile (tools/bench/time_to_quality.py sets them).
"""
import argparse
import csv
import json
import math
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------- the run


class Run:
    """An nflow train --dump run: its flags, its dump and its metrics."""

    # nflow train flags that change nothing the peer computes (output, progress, the
    # guard's tolerances, the data spec already turned into the dump)
    INERT = {"data", "val", "val-size", "val-every", "out", "dump", "no-plots", "no-gif", "quiet", "log-every",
             "checkpoint-every", "threads", "seed", "levels", "depth", "hidden", "min-scale", "no-learn-prior",
             "rebuild-tol", "loss-jump", "max-rollbacks", "recover-steps", "steps", "epochs", "batch", "gif-every",
             "store-activations", "rebuild-profile"}
    OPTIM = {"lr": 1e-3, "lr-min": 0.0, "warmup": 0.0, "clip": 0.0, "schedule": "constant"}

    def __init__(self, path):
        self.path = path
        args = open(os.path.join(path, "args.txt")).read().split("\n")
        flags, i = {}, 0
        args = [a for a in args if a]
        while i < len(args):
            name = args[i][2:]
            if i + 1 < len(args) and not args[i + 1].startswith("--"):
                flags[name], i = args[i + 1], i + 2
            else:
                flags[name], i = "1", i + 1
        for name in flags:
            if name not in self.INERT and name not in self.OPTIM:
                raise SystemExit(f"glow_fm.py: nflow's --{name} (in {path}/args.txt) has no counterpart here")
        if "dump" not in flags:
            raise SystemExit(f"glow_fm.py: {path} was not trained with --dump DIR")
        self.flags = flags
        self.opt = {k: type(v)(flags.get(k, v)) for k, v in self.OPTIM.items()}
        if self.opt["schedule"] not in ("constant", "cosine"):
            raise SystemExit(f"glow_fm.py: --schedule {self.opt['schedule']} is not implemented here")
        self.dump = flags["dump"] if os.path.isabs(flags["dump"]) else os.path.join(os.getcwd(), flags["dump"])
        self.meta = json.load(open(os.path.join(self.dump, "dump.json")))
        if self.meta["dtype"] != "float32":
            raise SystemExit("glow_fm.py: the dump holds %s, not float32" % self.meta["dtype"])
        c, d, h, w = self.meta["sample_shape"]
        if d != 1:
            raise SystemExit("glow_fm.py: volumes are not implemented here")
        self.shape = (c, h, w)
        self.D = c * h * w
        self.batch = self.meta["batch"]
        self.total = self.meta["steps"]
        raw = np.memmap(os.path.join(self.dump, "batches.f32"), dtype=np.float32, mode="r")
        self.batches = raw.reshape(-1, self.batch, c, h, w)
        n = self.meta["val_samples"]
        self.val = np.fromfile(os.path.join(self.dump, "val.f32"), dtype=np.float32).reshape(n, c, h, w) if n else None

    def lr(self, step):
        """nf_schedule_lr for step (1-based) of self.total."""
        o = self.opt
        lr, warm = o["lr"], int(o["warmup"])
        if warm > 0 and step <= warm:
            return lr * step / warm
        if o["schedule"] == "cosine":
            span = self.total - max(warm, 0)
            frac = min((step - 1 - max(warm, 0)) / span, 1.0) if span > 0 else 1.0
            return o["lr-min"] + (lr - o["lr-min"]) * 0.5 * (1 + math.cos(math.pi * frac))
        return lr

    def bits_per_dim(self, loss):
        """nf_bits_per_dim: the loss in nats per sample -> bits/dim in the data's units."""
        return (loss + 0.5 * self.D * math.log(2 * math.pi) + self.meta["nll_offset"]) / (self.D * math.log(2))

    def metrics(self):
        """nflow's (step rows, validation rows) from RUN/metrics.csv."""
        rows = list(csv.DictReader(open(os.path.join(self.path, "metrics.csv"))))
        return [r for r in rows if r["loss"]], [r for r in rows if r["val_loss"]]

    def events(self):
        """nflow's rollback, recompute and stop events (metrics.jsonl)."""
        out = []
        for line in open(os.path.join(self.path, "metrics.jsonl")):
            e = json.loads(line)
            if e["type"] in ("rollback", "recompute", "stop", "recover"):
                out.append(e)
        return out


# ----------------------------------------------------------------------------- the model


def squeeze(x):
    """(n, c, h, w) -> (n, 4c, h/2, w/2), channel (2 dh + dw) c + ch = x[:, ch, dh::2, dw::2]."""
    n, c, h, w = x.shape
    return x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 1, 2, 4).reshape(n, 4 * c, h // 2, w // 2)


class ActNorm(torch.nn.Module):
    def __init__(self, g):
        super().__init__()
        self.logs = torch.nn.Parameter(torch.tensor(g["logscale"][()]))
        self.bias = torch.nn.Parameter(torch.tensor(g["bias"][()]))
        self.ready = bool(g.attrs["initialized"])

    @torch.no_grad()
    def data_init(self, x):
        x64 = x.double()
        mean = x64.mean(dim=(0, 2, 3))
        sd0 = (x64 - mean.view(1, -1, 1, 1)).pow(2).mean(dim=(0, 2, 3)).sqrt()
        sd = torch.where(sd0 > 1e-6 * (1 + mean.abs()), sd0 + 1e-6, torch.ones_like(sd0))
        self.logs.copy_(-torch.log(sd))
        self.bias.copy_(-mean / sd)
        self.ready = True

    def forward(self, x):
        if not self.ready:
            self.data_init(x)
        y = x * torch.exp(self.logs).view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y, x.shape[2] * x.shape[3] * self.logs.sum()


class Conv1x1LU(torch.nn.Module):
    def __init__(self, g):
        super().__init__()
        self.lower = torch.nn.Parameter(torch.tensor(g["lower"][()]))
        self.upper = torch.nn.Parameter(torch.tensor(g["upper"][()]))
        self.logs = torch.nn.Parameter(torch.tensor(g["logscale"][()]))
        c = self.logs.numel()
        perm = torch.tensor(np.rint(g["perm"][()]).astype(np.int64))
        self.register_buffer("perm", perm)
        self.register_buffer("sign", torch.tensor(np.where(g["sign"][()] < 0, -1.0, 1.0)))
        self.register_buffer("eye", torch.eye(c, dtype=torch.float64))

    def weight(self):
        """W = P L Ud in double (as nflow computes it), rounded to float32."""
        L = torch.tril(self.lower.double(), -1) + self.eye
        Ud = torch.triu(self.upper.double(), 1) + torch.diag(self.sign * torch.exp(self.logs.double()))
        return torch.zeros_like(L).index_copy(0, self.perm, L @ Ud).float()

    def forward(self, x):
        c = x.shape[1]
        return F.conv2d(x, self.weight().view(c, c, 1, 1)), x.shape[2] * x.shape[3] * self.logs.sum()


class CouplingAffine(torch.nn.Module):
    def __init__(self, g, min_scale):
        super().__init__()
        for k in ("conv1", "conv2", "conv3"):
            setattr(self, k + "_w", torch.nn.Parameter(torch.tensor(g[k + ".weight"][()])))
            setattr(self, k + "_b", torch.nn.Parameter(torch.tensor(g[k + ".bias"][()])))
        self.eps = min_scale

    def forward(self, x):
        ca = x.shape[1] // 2
        xa, xb = x[:, :ca], x[:, ca:]
        h = F.relu(F.conv2d(xb, self.conv1_w, self.conv1_b, padding=1))
        h = F.relu(F.conv2d(h, self.conv2_w, self.conv2_b))
        out = F.conv2d(h, self.conv3_w, self.conv3_b, padding=1)
        raw, t = out[:, :ca], out[:, ca:]
        s = self.eps + (1 - self.eps) * torch.sigmoid(raw + 2)
        return torch.cat([s * xa + t, xb], 1), torch.log(s).sum(dim=(1, 2, 3))


class Glow(torch.nn.Module):
    """nflow's Glow from one of its model files (init.h5 or a trained model.h5)."""

    def __init__(self, path):
        super().__init__()
        with h5py.File(path, "r") as f:
            a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            want = dict(flow_kind="glow", coupling="affine", conv1x1="lu", squeeze="space", multiscale=1,
                        learn_prior=0)
            for k, v in want.items():
                if str(a.get(k)) != str(v):
                    raise SystemExit(f"glow_fm.py: {path} has {k} = {a.get(k)}; only {v} is implemented here")
            self.levels = int(a["levels"])
            eps = float(a["coupling_min_scale"])
            names = sorted(f["layers"].keys())
            self.plan = []  # per level: list of step modules (ActNorm, Conv1x1LU, CouplingAffine)
            self.mods = torch.nn.ModuleList()
            for name in names:
                g = f["layers"][name]
                kind = g.attrs["type"].decode() if isinstance(g.attrs["type"], bytes) else g.attrs["type"]
                if kind == "squeeze":
                    self.plan.append([])
                    continue
                m = {"actnorm": lambda: ActNorm(g), "conv1x1": lambda: Conv1x1LU(g),
                     "coupling_affine": lambda: CouplingAffine(g, eps)}.get(kind)
                if m is None or not self.plan:
                    raise SystemExit(f"glow_fm.py: layer {name} ({kind}) is not implemented here")
                mod = m()
                self.mods.append(mod)
                self.plan[-1].append(mod)
            if len(self.plan) != self.levels:
                raise SystemExit(f"glow_fm.py: {path}: {len(self.plan)} squeezes for {self.levels} levels")
            self.nparams = int(a["nparams"])

    def forward(self, x):
        """(z parts, logdet per sample)."""
        zs, ld = [], x.new_zeros(x.shape[0])
        for lev, mods in enumerate(self.plan):
            x = squeeze(x)
            for m in mods:
                x, l = m(x)
                ld = ld + l
            if lev < self.levels - 1:
                keep = x.shape[1] // 2
                zs.append(x[:, keep:])
                x = x[:, :keep]
        zs.append(x)
        return zs, ld


def loss_of(model, x):
    """mean_b (0.5 |z_b|^2 - logdet_b), nats per sample (nf_loss_nll)."""
    zs, ld = model(x)
    sq = sum(z.pow(2).flatten(1).sum(1) for z in zs)
    return (0.5 * sq - ld).mean()


@torch.no_grad()
def evaluate(model, val, chunk=500):
    """Mean loss over the held-out samples (weighted by chunk size, as nf_flow_eval_source)."""
    tot = 0.0
    for i in range(0, len(val), chunk):
        x = torch.from_numpy(val[i:i + chunk])
        tot += float(loss_of(model, x)) * len(x)
    return tot / len(val)


def frozen_count(model):
    """Frozen values of nflow's parameter view (perm, sign of each 1x1 conv): buffers here."""
    return sum(2 * m.logs.numel() for m in model.mods if isinstance(m, Conv1x1LU))


# ----------------------------------------------------------------------------- training


class Trainer:
    """Adam + nflow's schedule + nflow's clip, one step per dumped batch."""

    def __init__(self, run, model):
        self.run, self.model = run, model
        self.params = [p for p in model.parameters()]
        # foreach: one multi-tensor update for the ~170 parameter tensors (the same formula)
        self.opt = torch.optim.Adam(self.params, lr=run.opt["lr"], betas=(0.9, 0.999), eps=1e-8, foreach=True)
        self.clip = run.opt["clip"]

    def step(self, i):
        """Step i (1-based) on dumped batch i; returns (loss, lr, grad norm before clipping)."""
        x = torch.from_numpy(np.array(self.run.batches[i - 1]))
        lr = self.run.lr(i)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.opt.zero_grad(set_to_none=True)
        loss = loss_of(self.model, x)
        loss.backward()
        grads = [p.grad for p in self.params if p.grad is not None]
        norm = float(torch.stack([g.double().pow(2).sum() for g in grads]).sum().sqrt())
        if not math.isfinite(norm):
            raise SystemExit(f"glow_fm.py: step {i}: the gradient is not finite")
        if self.clip > 0 and norm > self.clip:
            for g in grads:
                g.mul_(self.clip / norm)
        self.opt.step()
        return float(loss.detach()), lr, norm


def cmd_train(a):
    run = Run(a.nflow_run)
    torch.set_num_threads(a.threads)
    model = Glow(os.path.join(run.dump, "init.h5"))
    steps = a.steps or len(run.batches)
    if steps > len(run.batches):
        raise SystemExit(f"glow_fm.py: {steps} steps asked for, {len(run.batches)} batches dumped")
    # evaluate where nflow did (its --val-every steps, epoch ends and the end), or every --eval-every
    at = {int(r["step"]) for r in run.metrics()[1]} if not a.eval_every else set(range(a.eval_every, steps + 1,
                                                                                        a.eval_every))
    at = {s for s in at if s <= steps} | {steps}
    tr = Trainer(run, model)
    os.makedirs(a.out, exist_ok=True)
    out = open(os.path.join(a.out, "metrics.csv"), "w", newline="")
    w = csv.writer(out)
    w.writerow(["system", "step", "loss", "bits_per_dim", "lr", "grad_norm", "wall_s", "val_bits_per_dim"])
    print(f"glow_fm.py: PyTorch {torch.__version__}, {torch.get_num_threads()} threads; nflow's model, "
          f"{sum(p.numel() for p in model.parameters())} trainable parameters; {steps} steps of {run.batch}, "
          f"{len(at)} evaluations on {0 if run.val is None else len(run.val)} held-out samples", flush=True)
    wall, t_eval = 0.0, 0.0
    for i in range(1, steps + 1):
        t0 = time.perf_counter()
        loss, lr, norm = tr.step(i)
        wall += time.perf_counter() - t0
        w.writerow(["torch", i, f"{loss:.9g}", f"{run.bits_per_dim(loss):.9g}", f"{lr:.6g}", f"{norm:.6g}",
                    f"{wall:.3f}", ""])
        if run.val is not None and i in at:
            t1 = time.perf_counter()
            vl = evaluate(model, run.val)
            t_eval += time.perf_counter() - t1
            vb = run.bits_per_dim(vl)
            w.writerow(["torch", i, "", "", "", "", f"{wall:.3f}", f"{vb:.9g}"])
            print(f"step {i}: training {wall:.1f} s, held-out bits/dim {vb:.4f} (evaluation {t_eval:.1f} s so far)",
                  flush=True)
        out.flush()
    out.close()
    ev = run.events()
    if ev:
        print(f"note: nflow's run had {len(ev)} guard events (the peer has no counterpart): "
              + "; ".join(f"{e['type']} at {e['step']}" for e in ev[:5]))
    return 0


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-30)


def cmd_check(a):
    run = Run(a.nflow_run)
    torch.set_num_threads(a.threads)
    steps_nf, vals_nf = run.metrics()
    ok = True
    model = Glow(os.path.join(run.dump, "init.h5"))
    n_nf = model.nparams - frozen_count(model)
    n_pt = sum(p.numel() for p in model.parameters())
    print(f"trainable parameters: nflow {n_nf}, peer {n_pt}")
    ok &= n_nf == n_pt
    first = float(loss_of(model, torch.from_numpy(np.array(run.batches[0]))))
    ref = float(steps_nf[0]["loss"])
    e = rel(first, ref)
    print(f"step 1 loss from init.h5 on batch 1: peer {first:.9g}, nflow {ref:.9g}, relative difference {e:.2e}")
    ok &= e <= a.tol
    if vals_nf and run.val is not None and os.path.exists(os.path.join(run.path, "model.h5")):
        trained = Glow(os.path.join(run.path, "model.h5"))
        vl, ref = evaluate(trained, run.val), float(vals_nf[-1]["val_loss"])
        e = rel(vl, ref)
        print(f"held-out loss of nflow's trained model.h5 (after step {vals_nf[-1]['step']}): peer {vl:.9g}, "
              f"nflow {ref:.9g}, relative difference {e:.2e}")
        ok &= e <= a.tol
    steps = min(a.steps or len(run.batches), len(run.batches), len(steps_nf))
    tr = Trainer(Run(a.nflow_run), Glow(os.path.join(run.dump, "init.h5")))
    worst = 0.0
    for i in range(1, steps + 1):
        loss, lr, norm = tr.step(i)
        r = steps_nf[i - 1]
        e = rel(loss, float(r["loss"]))
        worst = max(worst, e)
        if i <= 3 or i == steps:
            print(f"step {i}: loss peer {loss:.9g} nflow {float(r['loss']):.9g} (rel {e:.1e}); lr {lr:.6g} / "
                  f"{float(r['lr']):.6g}; grad norm {norm:.6g} / {float(r['grad_norm']):.6g}")
        if rel(lr, float(r["lr"])) > 1e-5:
            print(f"FAIL: step {i}: learning rate {lr} against nflow's {r['lr']}")
            ok = False
    print(f"{steps} steps trained on the same batches: largest relative loss difference {worst:.2e}")
    ok &= worst <= a.train_tol
    print("CHECK", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the peer on an nflow run's dump")
    t.add_argument("--nflow-run", required=True, help="output directory of nflow train --dump DIR")
    t.add_argument("--out", required=True)
    t.add_argument("--steps", type=int, default=0, help="[all dumped batches]")
    t.add_argument("--eval-every", type=int, default=0, help="[at the steps nflow validated]")
    t.add_argument("--threads", type=int, default=2)
    c = sub.add_parser("check", help="the architecture test against an nflow run")
    c.add_argument("--nflow-run", required=True)
    c.add_argument("--steps", type=int, default=0, help="steps trained and compared [all dumped]")
    c.add_argument("--tol", type=float, default=1e-4, help="relative, first loss and held-out loss")
    c.add_argument("--train-tol", type=float, default=1e-3, help="relative, losses along the training")
    c.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    return cmd_train(a) if a.cmd == "train" else cmd_check(a)


if __name__ == "__main__":
    sys.exit(main())
