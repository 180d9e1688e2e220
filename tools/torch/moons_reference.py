#!/usr/bin/python3
"""The same two-moons flows as tools/examples/vec_moons.c, written in PyTorch.

    moons_reference.py FLOW OUTDIR [lr=1e-4] [clip=0]

Reads what vec_moons wrote into OUTDIR: the training batches (moons_batches.f32,
iterations x 128 x 2), the held-out points (moons_heldout.f32) and the flow's initial
parameters in nflow's flat layout (FLOW_init.f32). Builds the flow with exactly
nflow's definitions (alternating masks, separate s/t nets, MADE degrees k mod (D-1),
the rational-quadratic spline with identity tails and shifted softplus, ActNorm's
data-dependent init, the LU-parametrised linear map), trains it with Adam on the same
batches in the same order, and writes the held-out NLL (nats per point, full density)
to OUTDIR/FLOW_torch.txt. FLOW: realnvp, realnvp_clamp2, maf or spline. clip > 0 scales each step's
gradient to a 2-norm of at most clip before Adam, as vec_moons' clip does.
"""
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
LEAKY = 0.2  # tf.nn.leaky_relu's slope, nflow's NF_LEAKY_SLOPE
BATCH = 128


class Flat:
    """Hands out consecutive slices of nflow's flat parameter vector."""

    def __init__(self, values):
        self.values, self.pos = values, 0

    def take(self, *shape, trainable=True):
        n = int(np.prod(shape))
        t = torch.tensor(self.values[self.pos:self.pos + n].reshape(shape))
        self.pos += n
        return torch.nn.Parameter(t) if trainable else t


class MLP(torch.nn.Module):
    """Dense layers W (out, in) then b (out), act between them, none after the last."""

    def __init__(self, flat, sizes, act, masks=None):
        super().__init__()
        self.W, self.b = torch.nn.ParameterList(), torch.nn.ParameterList()
        for i in range(len(sizes) - 1):
            self.W.append(flat.take(sizes[i + 1], sizes[i]))
            self.b.append(flat.take(sizes[i + 1]))
        self.act, self.masks = act, masks

    def forward(self, x):
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            x = F.linear(x, W * self.masks[i] if self.masks is not None else W, b)
            if i < len(self.W) - 1:
                x = {"relu": F.relu, "leakyrelu": lambda v: F.leaky_relu(v, LEAKY), "tanh": torch.tanh}[self.act](x)
        return x


def mask_split(D, parity):
    a = [i for i in range(D) if i % 2 == parity]
    return a, [i for i in range(D) if i % 2 != parity]


class RealNVP(torch.nn.Module):
    def __init__(self, flat, D, parity, hidden, act, clamp=0.0):
        super().__init__()
        self.clamp = clamp
        self.a, self.b = mask_split(D, parity)
        sizes = [len(self.a)] + hidden + [len(self.b)]
        self.s, self.t = MLP(flat, sizes, act), MLP(flat, sizes, act)

    def forward(self, x):
        xa, xb = x[:, self.a], x[:, self.b]
        s, t = self.s(xa), self.t(xa)
        if self.clamp > 0:  # soft clamp of the log-scale
            s = self.clamp * torch.tanh(s / self.clamp)
        y = x.clone()
        y[:, self.b] = xb * torch.exp(s) + t
        return y, s.sum(1)


class MAF(torch.nn.Module):
    def __init__(self, flat, D, parity, hidden, act):
        super().__init__()
        deg_in = [D - 1 - i if parity else i for i in range(D)]
        hdeg = lambda k: k % (D - 1) if D > 1 else 0
        sizes = [D] + hidden + [2 * D]
        masks, prev = [], deg_in
        for j in range(len(sizes) - 1):
            last = j == len(sizes) - 2
            m = torch.zeros(sizes[j + 1], sizes[j])
            for o in range(sizes[j + 1]):
                for i in range(sizes[j]):
                    m[o, i] = float(prev[i] < deg_in[o % D]) if last else float(prev[i] <= hdeg(o))
            masks.append(m)
            prev = [hdeg(k) for k in range(sizes[j + 1])]
        self.D, self.net = D, MLP(flat, sizes, act, masks)

    def forward(self, x):
        st = self.net(x)
        s, t = st[:, :self.D], st[:, self.D:]
        return x * torch.exp(s) + t, s.sum(1)


class ActNorm(torch.nn.Module):
    def __init__(self, flat, D):
        super().__init__()
        self.logs, self.bias, self.ready = flat.take(D), flat.take(D), False

    def forward(self, x):
        if not self.ready:  # nflow: sd = sqrt(biased var) + 1e-6, logs = -log sd, b = -mean / sd
            with torch.no_grad():
                x64 = x.double()
                mean, sd = x64.mean(0), x64.var(0, unbiased=False).sqrt() + 1e-6
                self.logs.copy_(-torch.log(sd)), self.bias.copy_(-mean / sd)
            self.ready = True
        return x * torch.exp(self.logs) + self.bias, self.logs.sum().expand(x.shape[0])


class LinearLU(torch.nn.Module):
    """W = P L (U + diag(sign exp(logs))), W row perm[i] = (L U') row i; y = W x + bias."""

    def __init__(self, flat, D):
        super().__init__()
        self.lower, self.upper, self.logs = flat.take(D, D), flat.take(D, D), flat.take(D)
        self.perm = flat.take(D, trainable=False).round().long()
        self.sign = flat.take(D, trainable=False).sign()
        self.bias = flat.take(D)
        self.D = D

    def forward(self, x):
        D = self.D
        L = torch.tril(self.lower, -1) + torch.eye(D)
        U = torch.triu(self.upper, 1) + torch.diag(self.sign * torch.exp(self.logs))
        W = torch.zeros(D, D).index_copy(0, self.perm, L @ U)
        return x @ W.T + self.bias, self.logs.sum().expand(x.shape[0])


MIN = 1e-3


def rq_spline(x, raw, K, B):
    """nflow's rational-quadratic spline (src/layers/rq_spline.h): y, log dy/dx."""
    w, h, d = raw[..., :K], raw[..., K:2 * K], raw[..., 2 * K:]

    def grid(r):
        size = 2 * B * (MIN + (1 - MIN * K) * torch.softmax(r, -1))
        edges = torch.cat([torch.full_like(size[..., :1], -B), -B + torch.cumsum(size, -1)[..., :-1],
                           torch.full_like(size[..., :1], B)], -1)
        return size, edges

    W, xk = grid(w)
    H, yk = grid(h)
    one = torch.ones_like(d[..., :1])
    delta = torch.cat([one, MIN + F.softplus(d + math.log(math.expm1(1 - MIN))), one], -1)
    inside = (x >= -B) & (x <= B)
    xc = x.clamp(-B, B)
    k = (xc[..., None] >= xk[..., 1:K]).sum(-1, keepdim=True)
    pick = lambda v: v.gather(-1, k)[..., 0]
    Wk, Hk, x0, y0, d0 = pick(W), pick(H), pick(xk), pick(yk), pick(delta)
    d1 = delta.gather(-1, k + 1)[..., 0]
    s = Hk / Wk
    xi = (xc - x0) / Wk
    t = xi * (1 - xi)
    den = s + (d1 + d0 - 2 * s) * t
    y = y0 + Hk * (s * xi ** 2 + d0 * t) / den
    logd = 2 * torch.log(s) + torch.log(d1 * xi ** 2 + 2 * s * t + d0 * (1 - xi) ** 2) - 2 * torch.log(den)
    return torch.where(inside, y, x), torch.where(inside, logd, torch.zeros_like(x))


class Spline(torch.nn.Module):
    def __init__(self, flat, D, parity, hidden, act, K, B):
        super().__init__()
        self.a, self.b = mask_split(D, parity)
        self.K, self.B = K, B
        self.net = MLP(flat, [len(self.a)] + hidden + [len(self.b) * (3 * K - 1)], act)

    def forward(self, x):
        raw = self.net(x[:, self.a]).reshape(x.shape[0], len(self.b), 3 * self.K - 1)
        yb, logd = rq_spline(x[:, self.b], raw, self.K, self.B)
        y = x.clone()
        y[:, self.b] = yb
        return y, logd.sum(1)


def build(name, flat):
    D = 2
    if name == "realnvp":  # realnvp(hidden=24x3,act=leakyrelu)*9
        return [RealNVP(flat, D, i % 2, [24, 24, 24], "leakyrelu") for i in range(9)]
    if name == "realnvp_clamp2":  # realnvp(hidden=24x3,act=leakyrelu,clamp=2)*9
        return [RealNVP(flat, D, i % 2, [24, 24, 24], "leakyrelu", 2.0) for i in range(9)]
    if name == "maf":  # maf(hidden=24x3,act=relu)*4
        return [MAF(flat, D, i % 2, [24, 24, 24], "relu") for i in range(4)]
    if name == "spline":  # (actnorm, linear(lu=1), spline(bins=8,bound=3,hidden=16x3,act=leakyrelu)*2)*3
        layers = []
        for _ in range(3):
            layers += [ActNorm(flat, D), LinearLU(flat, D)]
            layers += [Spline(flat, D, p, [16, 16, 16], "leakyrelu", 8, 3.0) for p in (0, 1)]
        return layers
    raise SystemExit("unknown flow " + name)


def run(layers, x):
    ld = torch.zeros(x.shape[0])
    for layer in layers:
        x, l = layer(x)
        ld = ld + l
    return x, ld


def main():
    name, outdir = sys.argv[1], sys.argv[2]
    lr = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-4
    clip = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    init = np.fromfile(f"{outdir}/{name}_init.f32", dtype=np.float32)
    batches = np.fromfile(f"{outdir}/moons_batches.f32", dtype=np.float32).reshape(-1, BATCH, 2)
    held = torch.tensor(np.fromfile(f"{outdir}/moons_heldout.f32", dtype=np.float32).reshape(-1, 2))
    flat = Flat(init)
    layers = torch.nn.ModuleList(build(name, flat))
    assert flat.pos == init.size, f"the flow uses {flat.pos} parameters, nflow's has {init.size}"
    opt = torch.optim.Adam(layers.parameters(), lr=lr)
    start, window = time.time(), 0.0
    for i, batch in enumerate(batches):
        z, ld = run(layers, torch.tensor(batch))
        loss = (0.5 * (z ** 2).sum(1) - ld).mean()
        opt.zero_grad()
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(layers.parameters(), clip)
        opt.step()
        window += loss.item()
        if (i + 1) % 1000 == 0:
            print(f"iteration {i + 1}: mean training loss of the last 1000 {window / 1000:.4f}", flush=True)
            window = 0.0
    with torch.no_grad():
        z, ld = run(layers, held)
        nll = ((0.5 * (z ** 2).sum(1) - ld).mean() + math.log(2 * math.pi)).item()
    print(f"{name}: held-out NLL {nll:.4f} nats per point after {len(batches)} iterations "
          f"({time.time() - start:.1f} s, PyTorch {torch.__version__})")
    with open(f"{outdir}/{name}_torch.txt", "w") as f:
        f.write(f"{nll:.6f}\n")


if __name__ == "__main__":
    main()
