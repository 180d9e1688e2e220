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


def conv(x, W, b):
    """Cross-correlation with zero padding k//2 of x (n, c, d, h, w) by W (o, c, kh, kw) or
    (o, c, kd, kh, kw), plus b (o)."""
    W = W[:, :, None] if W.ndim == 4 else W
    kd, kh, kw = W.shape[2:]
    n, c, d, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (kd // 2,) * 2, (kh // 2,) * 2, (kw // 2,) * 2))
    out = np.zeros((n, W.shape[0], d, h, w)) + b[None, :, None, None, None]
    for a in range(kd):
        for e in range(kh):
            for f in range(kw):
                out += np.einsum("oc,ncdhw->nodhw", W[:, :, a, e, f], xp[:, :, a:a + d, e:e + h, f:f + w])
    return out


def subnet(flat, off, cin, hid, cout, vol):
    """The coupling sub-network's six blocks from flat[off:]: (NN, offset after them)."""
    taps, one = ((3, 3, 3), (1, 1, 1)) if vol else ((3, 3), (1, 1))
    ps = []
    for sh in [(hid, cin) + taps, (hid,), (hid, hid) + one, (hid,), (cout, hid) + taps, (cout,)]:
        k = int(np.prod(sh))
        ps.append(flat[off:off + k].reshape(sh))
        off += k
    nn = lambda v: conv(np.maximum(conv(np.maximum(conv(v, ps[0], ps[1]), 0), ps[2], ps[3]), 0), ps[4], ps[5])
    return nn, off


def affine_coupling(v, u, nn, logdet):
    """coupling_affine on v (all of it changes) given NN's input u; eps = 0.001."""
    ca, out = v.shape[1], nn(u)
    s = 1e-3 + (1 - 1e-3) / (1 + np.exp(-(out[:, :ca] + 2)))
    logdet += np.log(s).reshape(len(v), -1).sum(1)
    return s * v + out[:, ca:]


def hint_conv(flat, off, v, hid, vol, logdet):
    """The channel HINT tree: a node's coupling, then its two subtrees (m > 4)."""
    m, ma = v.shape[1], v.shape[1] // 2
    nn, off = subnet(flat, off, m - ma, hid, 2 * ma, vol)
    v = np.concatenate([affine_coupling(v[:, :ma], v[:, ma:], nn, logdet), v[:, ma:]], 1)
    if m > 4:
        a, off = hint_conv(flat, off, v[:, :ma], hid, vol, logdet)
        b, off = hint_conv(flat, off, v[:, ma:], hid, vol, logdet)
        v = np.concatenate([a, b], 1)
    return v, off


def actnorm_householder(flat, off, v, logdet):
    """AN then P of a cond_hint_conv lane: logscale, bias, v1, v2, v3 (c each)."""
    c = v.shape[1]
    ls, b = flat[off:off + c], flat[off + c:off + 2 * c]
    logdet += np.prod(v.shape[2:]) * ls.sum()
    v = np.exp(ls)[None, :, None, None, None] * v + b[None, :, None, None, None]
    W = np.eye(c)
    for i in range(3):
        u = flat[off + (2 + i) * c:off + (3 + i) * c]
        if u @ u:
            W = (np.eye(c) - 2 * np.outer(u, u) / (u @ u)) @ W
    return np.einsum("oc,ncdhw->nodhw", W, v), off + 5 * c


def cond_hint_conv_forward(flat, x, y, opt, logdet, xs, ys):
    """K steps: ANx, Px, Hx, A (given yp), ANy, Py, Hy, back to back in nets."""
    hid, n, vol = int(opt["hidden"]), len(x), xs[1] > 1
    x, y = x.reshape((n,) + tuple(xs)), y.reshape((n,) + tuple(ys))
    off = 0
    for _ in range(int(opt["steps"])):
        ax = off
        off += 5 * xs[0]
        hx = off
        _, off = hint_conv(flat, off, x, hid, vol, np.zeros(n))  # its offsets: x's tree comes first
        nn, off = subnet(flat, off, ys[0], hid, 2 * xs[0], vol)
        yp, off = actnorm_householder(flat, off, y, logdet)
        x, _ = actnorm_householder(flat, ax, x, logdet)
        x, _ = hint_conv(flat, hx, x, hid, vol, logdet)
        x = affine_coupling(x, yp, nn, logdet)
        y, off = hint_conv(flat, off, yp, hid, vol, logdet)
    assert off == len(flat), (off, len(flat))
    logdet += -0.5 * (y * y).reshape(n, -1).sum(1) - 0.5 * np.prod(ys) * np.log(2 * np.pi)
    return x.reshape(n, -1)


def hint_size(m, hid):
    """Parameters of a hint tree over m values."""
    n = 2 * mlp_size([m // 2] + hid + [m - m // 2])
    return n if m <= 4 else n + hint_size(m // 2, hid) + hint_size(m - m // 2, hid)


def layer_forward(kind, opt, g, x, logdet, cond, in_shape):
    """cond: {"y": the conditions (n, C), "s": the features the conditional layers take,
    "shape": y's (c, d, h, w)}; in_shape: the layer's (c, d, h, w)."""
    D = x.shape[1]
    if kind == "cond_hint_conv":  # y itself as images, both lanes
        return cond_hint_conv_forward(g["nets"], x, cond["y"], opt, logdet, in_shape, cond["shape"])
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
    if kind == "actnorm":  # per channel of in_shape: D channels for vectors
        c = len(g["logscale"])
        logdet += (D // c) * g["logscale"].sum()
        v = x.reshape(len(x), c, D // c)
        return (np.exp(g["logscale"])[None, :, None] * v + g["bias"][None, :, None]).reshape(len(x), D)
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
        cond["shape"] = [int(f.attrs[k]) for k in ("cond_channels", "cond_depth", "cond_height", "cond_width")]
        C = int(np.prod(cond["shape"]))
        cond["y"] = h5py.File(sys.argv[5], "r")["y"][()].astype(np.float64).reshape(-1, C)[:len(x)]
        cond["s"] = cond["y"]  # without a summary network the layers take y itself
    kinds = set()
    for name, (kind, opt) in zip(names, items):
        grp = f["layers"][name]
        stored = grp.attrs["type"].decode()
        assert stored == (kind if kind != "reverse" else "permute"), (name, stored, kind)
        g = {k: d[()].astype(np.float64) for k, d in grp.items()}
        x = layer_forward(stored, opt, g, x, logdet, cond, [int(v) for v in grp.attrs["in_shape"]])
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
