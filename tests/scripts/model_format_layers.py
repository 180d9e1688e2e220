"""Rebuilds every sequential layer kind's forward pass from a model file and the formulas
of datasets/MODEL_FORMAT.md alone (numpy + h5py), and compares z and logdet with what
`nflow encode` wrote. Every kind met must have its own entry in the document.
argv: model.h5 data.h5 latents.h5 (with /z and /z_logdet) MODEL_FORMAT.md [cond.h5 (with
/y): the conditions of a conditional model, as `nflow encode --cond` read them]."""
import re
import sys

import h5py
import numpy as np


def spec_items(spec):
    """The canonical spec's items: [(kind, {key: value})], the prior item apart."""
    items, prior, depth, cur = [], "standard", 0, ""
    for ch in spec + ",":
        if ch == "," and depth == 0:
            it = cur.strip()
            cur = ""
            if it.startswith("prior="):
                prior = it[6:]
            elif it:
                m = re.fullmatch(r"(\w+)(?:\((.*)\))?", it)
                args = dict(kv.split("=") for kv in m.group(2).split(",")) if m.group(2) else {}
                items.append((m.group(1), args))
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    return prior, items


def hidden_sizes(h):
    if h == "none":
        return []
    if "x" in h:
        w, n = h.split("x")
        return [int(w)] * int(n)
    return [int(v) for v in h.split("-")]


ACT = {"relu": lambda h: np.maximum(h, 0), "leakyrelu": lambda h: np.where(h > 0, h, 0.2 * h),
       "tanh": np.tanh, "identity": lambda h: h}


def mlp_size(sizes):
    return sum(sizes[j + 1] * (sizes[j] + 1) for j in range(len(sizes) - 1))


def mlp(flat, sizes, act, x, masks=None):
    """The flat MLP block: per dense layer W (m, k) row-major, then b (m)."""
    p, h = 0, x
    for j in range(len(sizes) - 1):
        k, m = sizes[j], sizes[j + 1]
        W = flat[p:p + m * k].reshape(m, k)
        b = flat[p + m * k:p + m * k + m]
        p += m * k + m
        if masks is not None:
            W = W * masks[j]
        h = h @ W.T + b
        if j < len(sizes) - 2:
            h = ACT[act](h)
    assert p == len(flat), (p, len(flat))
    return h


def split(x, parity):
    idx = np.arange(x.shape[1])
    a, b = idx[idx % 2 == parity], idx[idx % 2 != parity]
    return a, b


def made_masks(D, sizes, parity):
    deg_in = np.arange(D) if parity == 0 else D - 1 - np.arange(D)
    hid = lambda n: np.arange(n) % (D - 1) if D > 1 else np.zeros(n, int)
    masks, din = [], deg_in
    for j in range(len(sizes) - 1):
        last = j == len(sizes) - 2
        if last:
            dout = deg_in[np.arange(sizes[j + 1]) % D]
            masks.append((din[None, :] < dout[:, None]).astype(float))
        else:
            dout = hid(sizes[j + 1])
            masks.append((din[None, :] <= dout[:, None]).astype(float))
            din = dout
    return masks


def rqs(r, K, B, x):
    """One value through the rational-quadratic spline: (y, log dy/dx)."""
    if not (-B <= x <= B):
        return x, 0.0
    m = 1e-3
    sm = lambda v: np.exp(v - v.max()) / np.exp(v - v.max()).sum()
    W = 2 * B * (m + (1 - m * K) * sm(r[:K]))
    H = 2 * B * (m + (1 - m * K) * sm(r[K:2 * K]))
    xk = np.concatenate([[-B], -B + np.cumsum(W)])
    yk = np.concatenate([[-B], -B + np.cumsum(H)])
    xk[K] = yk[K] = B
    d = np.ones(K + 1)
    d[1:K] = m + np.logaddexp(0, r[2 * K:] + np.log(np.expm1(1 - m)))
    k = min(int(np.searchsorted(xk, x, side="right")) - 1, K - 1)
    xi, s = (x - xk[k]) / W[k], H[k] / W[k]
    t = xi * (1 - xi)
    den = s + (d[k + 1] + d[k] - 2 * s) * t
    y = yk[k] + H[k] * (s * xi * xi + d[k] * t) / den
    P = d[k + 1] * xi * xi + 2 * s * t + d[k] * (1 - xi) ** 2
    return y, 2 * np.log(s) + np.log(P) - 2 * np.log(den)


def lu_weight(g):
    """W = P L (U + diag(sign exp(logscale))), W[perm[i], :] = M[i, :]."""
    c = len(g["logscale"])
    L = np.tril(g["lower"], -1) + np.eye(c)
    U = np.triu(g["upper"], 1) + np.diag(np.where(g["sign"] < 0, -1.0, 1.0) * np.exp(g["logscale"]))
    M = L @ U
    W = np.empty_like(M)
    W[np.rint(g["perm"]).astype(int)] = M
    return W


def hint_forward(flat, x, sizes_hidden, act, logdet):
    """The HINT tree over all columns of x; nodes' parameters in pre-order."""

    def node(x, off):  # -> (y, offset after this subtree)
        m = x.shape[1]
        ma = m // 2
        xa, xb = x[:, :ma], x[:, ma:]
        sizes = [ma] + sizes_hidden + [m - ma]
        n = mlp_size(sizes)
        own, off = off, off + 2 * n  # the node's s_net, t_net, then its subtrees
        if m <= 4:
            ya, hb = xa, xb
        else:
            ya, off = node(xa, off)
            hb, off = node(xb, off)
        s = mlp(flat[own:own + n], sizes, act, xa)  # conditioned on the original xa
        t = mlp(flat[own + n:own + 2 * n], sizes, act, xa)
        logdet[:] += s.sum(1)
        return np.concatenate([ya, np.exp(s) * hb + t], 1), off

    y, end = node(x, 0)
    assert end == len(flat), (end, len(flat))
    return y


def cond_hint_forward(flat, x, y, opt, logdet):
    """K steps over the two lanes; per step Hx's nets, s, t (C -> D), Hy's nets."""
    hid, act = hidden_sizes(opt["hidden"]), opt["act"]
    D, C = x.shape[1], y.shape[1]
    sizes = [C] + hid + [D]
    off = 0
    for _ in range(int(opt["steps"])):
        yp, x = y[:, ::-1], x[:, ::-1]
        n = hint_size(D, hid)
        x = hint_forward(flat[off:off + n], x, hid, act, logdet)
        off += n
        m = mlp_size(sizes)
        s = mlp(flat[off:off + m], sizes, act, yp)
        t = mlp(flat[off + m:off + 2 * m], sizes, act, yp)
        off += 2 * m
        x = np.exp(s) * x + t
        logdet += s.sum(1)
        n = hint_size(C, hid)
        y = hint_forward(flat[off:off + n], yp, hid, act, logdet)
        off += n
    assert off == len(flat), (off, len(flat))
    logdet += -0.5 * (y * y).sum(1) - 0.5 * C * np.log(2 * np.pi)
    return x


def hint_size(m, hid):
    """Parameters of a hint tree over m values."""
    n = 2 * mlp_size([m // 2] + hid + [m - m // 2])
    return n if m <= 4 else n + hint_size(m // 2, hid) + hint_size(m - m // 2, hid)


def layer_forward(kind, opt, g, x, logdet, cond):
    """cond: {"y": the conditions (n, C), "s": the features the conditional layers take}."""
    D = x.shape[1]
    if kind == "summary":  # the identity on x; s = NN(y) for the layers after it
        y = cond["y"]
        cond["s"] = mlp(g["net"], [y.shape[1]] + hidden_sizes(opt["hidden"]) + [int(opt["out"])], opt["act"], y)
        return x
    if kind == "cond_hint":  # y itself, both lanes
        return cond_hint_forward(g["nets"], x, cond["y"], opt, logdet)
    if kind in ("cond_realnvp", "cond_spline"):  # the nets take [xa, s]
        a, _ = split(x, int(opt["parity"]))
        xs = np.concatenate([x[:, a], cond["s"]], 1)
        return coupling(kind[5:], opt, g, x, logdet, xs)
    if kind in ("realnvp", "nice", "spline"):
        a, _ = split(x, int(opt["parity"]))
        return coupling(kind, opt, g, x, logdet, x[:, a])
    return plain_layer(kind, opt, g, x, logdet)


def coupling(kind, opt, g, x, logdet, net_in):
    """realnvp, nice, spline; net_in: what the nets see (xa, or [xa, s])."""
    a, b = split(x, int(opt["parity"]))
    xa, xb = net_in, x[:, b]
    hid = hidden_sizes(opt["hidden"])
    y = x.copy()
    if kind == "spline":
        K, B = int(opt["bins"]), float(opt["bound"])
        R = 3 * K - 1
        raw = mlp(g["net"], [xa.shape[1]] + hid + [len(b) * R], opt["act"], xa)
        for n in range(len(x)):
            for j in range(len(b)):
                y[n, b[j]], ld = rqs(raw[n, j * R:(j + 1) * R], K, B, xb[n, j])
                logdet[n] += ld
        return y
    sizes = [xa.shape[1]] + hid + [len(b)]
    t = mlp(g["t_net"], sizes, opt["act"], xa)
    if kind == "nice":
        y[:, b] = xb + t
        return y
    s = mlp(g["s_net"], sizes, opt["act"], xa)
    clamp = float(opt["clamp"])
    if clamp > 0:
        s = clamp * np.tanh(s / clamp)
    y[:, b] = np.exp(s) * xb + t
    logdet += s.sum(1)
    return y


def plain_layer(kind, opt, g, x, logdet):
    D = x.shape[1]
    if kind == "actnorm":
        logdet += g["logscale"].sum()
        return np.exp(g["logscale"]) * x + g["bias"]
    if kind in ("maf", "iaf"):
        parity = int(opt["parity"])
        sizes = [D] + hidden_sizes(opt["hidden"]) + [2 * D]
        masks = made_masks(D, sizes, parity)
        made = lambda u: mlp(g["made"], sizes, opt["act"], u, masks)
        if kind == "maf":
            out = made(x)
            logdet += out[:, :D].sum(1)
            return x * np.exp(out[:, :D]) + out[:, D:]
        z = np.zeros_like(x)
        order = range(D) if parity == 0 else range(D - 1, -1, -1)
        for i in order:
            out = made(z)
            z[:, i] = (x[:, i] - out[:, D + i]) * np.exp(-out[:, i])
        logdet -= made(z)[:, :D].sum(1)
        return z
    if kind == "hint":
        return hint_forward(g["nets"], x, hidden_sizes(opt["hidden"]), opt["act"], logdet)
    if kind == "affine":
        s = g["logscale"] if "logscale" in g else np.zeros(D)
        t = g["shift"] if "shift" in g else np.zeros(D)
        logdet += s.sum()
        return np.exp(s) * x + t
    if kind == "linear":
        W = lu_weight(g) if "lower" in g else g["weight"]
        logdet += np.log(abs(np.linalg.det(W)))
        return x @ W.T + g["bias"]
    if kind == "leakyrelu":
        a = g["logslope"][0]
        logdet += a * (x < 0).sum(1)
        return np.where(x < 0, np.exp(a) * x, x)
    if kind == "permute":
        return x[:, np.rint(g["perm"]).astype(int)]
    if kind == "batchnorm":
        eps = float(opt["eps"])
        v = g["running_var"] + eps
        logdet += (g["loggamma"] - 0.5 * np.log(v)).sum()
        return (x - g["running_mean"]) / np.sqrt(v) * np.exp(g["loggamma"]) + g["beta"]
    raise SystemExit(f"layer kind '{kind}' is not in MODEL_FORMAT.md's list")


def main():
    f = h5py.File(sys.argv[1], "r")
    assert f.attrs["flow_kind"].decode() == "sequential"
    prior, items = spec_items(f.attrs["spec"].decode())
    names = sorted(f["layers"])
    if prior == "diagonal":
        items.append(("affine", {"scale": "1", "shift": "1"}))
    assert len(names) == len(items) == int(f.attrs["nlayers"]), (names, items)
    x = h5py.File(sys.argv[2], "r")["x"][()].astype(np.float64).reshape(-1, int(np.prod(f.attrs["input_shape"])))
    lat = h5py.File(sys.argv[3], "r")
    z_ref, ld_ref = lat["z"][()].astype(np.float64), lat["z_logdet"][()]
    x = x[:len(z_ref)]  # encode --limit N: the first N samples
    logdet = np.zeros(len(x))
    cond = {}
    if "cond_channels" in f.attrs:
        C = int(np.prod([f.attrs[k] for k in ("cond_channels", "cond_depth", "cond_height", "cond_width")]))
        cond["y"] = h5py.File(sys.argv[5], "r")["y"][()].astype(np.float64).reshape(-1, C)[:len(x)]
        cond["s"] = cond["y"]  # without a summary network the layers take y itself
    kinds = set()
    for name, (kind, opt) in zip(names, items):
        grp = f["layers"][name]
        stored = grp.attrs["type"].decode()
        assert stored == (kind if kind != "reverse" else "permute"), (name, stored, kind)
        g = {k: d[()].astype(np.float64) for k, d in grp.items()}
        x = layer_forward(stored, opt, g, x, logdet, cond)
        kinds.add(stored)
    documented = set(re.findall(r"^\*\*`(\w+)`\*\*", open(sys.argv[4]).read(), re.M))
    missing = sorted(kinds - documented)
    if missing:
        raise SystemExit(f"MODEL_FORMAT.md has no entry for the layer kinds {missing}")
    dz = np.abs(x - z_ref).max() / max(1.0, np.abs(z_ref).max())
    dl = np.abs(logdet - ld_ref).max() / max(1.0, np.abs(ld_ref).max())
    print(f"{len(names)} layers of {len(kinds)} kinds ({', '.join(sorted(kinds))}) rebuilt in numpy: "
          f"max relative |dz| {dz:.2e}, |dlogdet| {dl:.2e}")
    sys.exit(0 if dz < 1e-4 and dl < 1e-4 else 1)


main()
