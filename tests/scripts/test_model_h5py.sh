#!/usr/bin/env bash
# Reads nflow model and checkpoint files with h5py and numpy only, following
# datasets/MODEL_FORMAT.md: checks the stamp, every documented attribute and dataset,
# rebuilds one ActNorm layer and then six whole Glow networks (vector; multiscale with
# space squeeze, LU 1x1 and affine couplings; multiscale with Haar, Householder and
# additive couplings; the first multiscale one with learned priors; the two multiscale
# ones as conditional Glows, p(x | y)) in numpy and compares their outputs with nflow's. Also checks that
# training k steps, checkpointing, and training the rest in a second process writes the
# same file as training in one go.
#   test_model_h5py.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: test_model_h5py.sh BUILD_DIR}
tool="$build/model_roundtrip"
[ -x "$tool" ] || { echo "missing $tool (tools/examples/model_roundtrip.c)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$tool" models "$work"
"$tool" train "$work/once.h5" 5
"$tool" train "$work/part1.h5" 2
"$tool" train "$work/part2.h5" 3 "$work/part1.h5"
cmp "$work/once.h5" "$work/part2.h5" || { echo "resumed training differs from training in one go"; exit 1; }

/usr/bin/python3 - "$work" <<'EOF'
import sys, zlib
import h5py
import numpy as np

work = sys.argv[1]
failures = []

def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)

def text(v):  # nflow writes fixed-length strings: h5py gives bytes
    return v.decode() if isinstance(v, bytes) else str(v)

# ------------------------------------------------------------------ the stamp
def check_stamp(path):
    data = open(path, "rb").read()
    head = data[:512].rstrip(b"\0").decode().split("\n")
    check(head[0] == "NFLOW-STAMP 1", f"{path}: stamp magic {head[0]!r}")
    fields = dict(line.split(" ", 1) for line in head[1:] if line)
    check(int(fields["bytes"]) == len(data), f"{path}: stamp size")
    check(int(fields["crc32"], 16) == zlib.crc32(data[512:]), f"{path}: stamp CRC-32")

# ------------------------------------------------------------------ the layout
GLOW_INT = ["channels", "depth", "height", "width", "hidden", "levels", "steps", "multiscale"]
GLOW_STR = {"squeeze": ("space", "haar"), "coupling": ("affine", "additive"), "conv1x1": ("lu", "householder")}

def read_model(path, want_format="nflow-model"):
    """Checks every documented attribute and dataset; returns (config, layers)."""
    check_stamp(path)
    f = h5py.File(path, "r")
    check(f.userblock_size == 512, "user block of 512 bytes")
    a = f.attrs
    check(text(a["format"]) == want_format, "format")
    check(int(a["format_version"]) == 1, "format_version")
    check(text(a["flow_kind"]) == "glow", "flow_kind")
    check(text(a["nflow_version"]).count(".") == 1, "nflow_version")
    cfg = {k: int(a[k]) for k in GLOW_INT}
    for k, allowed in GLOW_STR.items():
        cfg[k] = text(a[k])
        check(cfg[k] in allowed, f"attribute {k} = {cfg[k]}")
    cfg["seed"] = int(a["seed"])
    # the affine couplings' scale floor; files written before it was a setting had 1e-3
    cfg["coupling_min_scale"] = float(a["coupling_min_scale"]) if "coupling_min_scale" in a else 1e-3
    check(0 < cfg["coupling_min_scale"] < 1, "coupling_min_scale in (0, 1)")
    # learned priors; files written before them had none
    cfg["learn_prior"] = int(a["learn_prior"]) if "learn_prior" in a else 0
    check(cfg["learn_prior"] in (0, 1), "learn_prior is 0 or 1")
    # conditional Glow: y of cond_channels channels and x's spatial size; absent: none
    cfg["cond_channels"] = int(a["cond_channels"]) if "cond_channels" in a else 0
    check(list(a["input_shape"]) == [cfg["channels"], cfg["depth"], cfg["height"], cfg["width"]], "input_shape")
    nlayers, nparams = int(a["nlayers"]), int(a["nparams"])
    names = sorted(f["layers"].keys())
    check(len(names) == nlayers, "one group per layer")
    layers, offset = [], 0
    for i, name in enumerate(names):
        g = f["layers"][name]
        check(name == "%03d_%s" % (i, text(g.attrs["type"])), f"layer group name {name}")
        check(int(g.attrs["index"]) == i, f"{name}: index")
        check(int(g.attrs["param_offset"]) == offset, f"{name}: param_offset")
        check(int(g.attrs["initialized"]) in (0, 1), f"{name}: initialized")
        check(len(g.attrs["in_shape"]) == 4 and len(g.attrs["out_shape"]) == 4, f"{name}: shapes")
        blocks, count = {}, 0
        for bname, d in g.items():
            check(d.dtype == np.float32, f"{name}/{bname}: float32")
            check(d.fletcher32, f"{name}/{bname}: Fletcher-32")
            check(int(d.attrs["frozen"]) in (0, 1), f"{name}/{bname}: frozen")
            check(offset <= int(d.attrs["offset"]) < offset + int(g.attrs["nparams"]), f"{name}/{bname}: offset")
            blocks[bname] = d[...]
            count += d.size
        check(count == int(g.attrs["nparams"]), f"{name}: blocks cover nparams")
        offset += count
        layers.append((text(g.attrs["type"]), blocks, g))
    check(offset == nparams, "nparams")
    return cfg, layers, f

# ------------------------------------------------------------------ the layers in numpy
def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))

def conv(x, w, b):  # (n, cin, h, w) -> (n, cout, h, w); zero padding k//2, cross-correlation
    k = w.shape[2]
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((x.shape[0], w.shape[0]) + x.shape[2:])
    for ki in range(k):
        for kj in range(k):
            patch = xp[:, :, ki:ki + x.shape[2], kj:kj + x.shape[3]]
            out += np.einsum("oc,nchw->nohw", w[:, :, ki, kj], patch)
    return out + b[None, :, None, None]

def subnet(x, B):  # conv3x3 -> ReLU -> conv1x1 -> ReLU -> conv3x3
    h = np.maximum(conv(x, B["conv1.weight"], B["conv1.bias"]), 0)
    h = np.maximum(conv(h, B["conv2.weight"], B["conv2.bias"]), 0)
    return conv(h, B["conv3.weight"], B["conv3.bias"])

def conv1x1_weight(B):
    if "v1" in B:  # Householder: W = H3 H2 H1, H = I - 2 v v^T / (v^T v)
        c = B["v1"].size
        W = np.eye(c)
        for v in (B["v1"], B["v2"], B["v3"]):
            v = v.astype(np.float64)
            if v @ v > 0:
                W = (np.eye(c) - 2 * np.outer(v, v) / (v @ v)) @ W
        return W, 0.0
    c = B["logscale"].size  # LU: W = P L (U + diag(sign * exp(logscale)))
    L = np.tril(B["lower"], -1) + np.eye(c)
    U = np.triu(B["upper"], 1) + np.diag(np.where(B["sign"] < 0, -1.0, 1.0) * np.exp(B["logscale"].astype(np.float64)))
    M = L @ U
    W = np.zeros((c, c))
    W[np.rint(B["perm"]).astype(int)] = M  # row perm[i] of W is row i of M
    return W, float(np.sum(B["logscale"], dtype=np.float64))

HAAR = 0.5 * np.array([[1, 1, 1, 1], [1, 1, -1, -1], [1, -1, 1, -1], [1, -1, -1, 1]])

def squeeze(x, haar):  # (n, c, h, w) -> (n, 4c, h/2, w/2), block k = pixel (k // 2, k % 2) of each 2x2
    n, c, h, w = x.shape
    p = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 3, 5, 1, 2, 4).reshape(n, 4, c, h // 2, w // 2)
    if haar:
        p = np.einsum("km,nmchw->nkchw", HAAR, p)
    return p.reshape(n, 4 * c, h // 2, w // 2)

def layer_forward(kind, B, x, logdet, eps, cond=None):  # eps: the affine couplings' scale floor
    hw = x.shape[2] * x.shape[3]
    if kind == "actnorm":  # y = exp(logscale) * x + bias per channel
        logdet += hw * np.sum(B["logscale"], dtype=np.float64)
        return np.exp(B["logscale"])[None, :, None, None] * x + B["bias"][None, :, None, None]
    if kind == "conv1x1":  # y = W x at every pixel
        W, lad = conv1x1_weight(B)
        logdet += hw * lad
        return np.einsum("oc,nchw->nohw", W, x)
    if kind in ("coupling_affine", "coupling_additive"):
        ca = x.shape[1] // 2
        xa, xb = x[:, :ca], x[:, ca:]
        out = subnet(xb if cond is None else np.concatenate([xb, cond], axis=1), B)  # conditional: NN(xb, y_l)
        if kind == "coupling_additive":  # ya = xa + NN(xb)
            return np.concatenate([xa + out, xb], axis=1)
        s = eps + (1 - eps) * sigmoid(out[:, :ca] + 2.0)  # (raw, t) = NN(xb)
        logdet += np.sum(np.log(s), axis=(1, 2, 3))
        return np.concatenate([s * xa + out[:, ca:], xb], axis=1)
    if kind in ("squeeze", "haar"):
        return squeeze(x, kind == "haar")
    if kind == "prior":  # xb ~ N(m, exp(ls)^2): yb = (xb - m) exp(-ls), logdet -= sum ls
        if "weight" in B:  # split prior: (m, ls) = conv3x3(xa), xa = the first c//2 channels
            ca = x.shape[1] // 2
            out = conv(x[:, :ca], B["weight"], B["bias"])
            cb = x.shape[1] - ca
            m, ls = out[:, :cb], out[:, cb:]
        else:  # top prior: per channel
            ca = 0
            m, ls = B["mean"][None, :, None, None], B["logscale"][None, :, None, None] + 0 * x
        logdet -= np.sum(ls, axis=(1, 2, 3), dtype=np.float64)
        return np.concatenate([x[:, :ca], (x[:, ca:] - m) * np.exp(-ls)], axis=1)
    raise ValueError(kind)

def glow_forward(cfg, layers, x, y=None):
    n = x.shape[0]
    logdet = np.zeros(n)
    zs, i = [], 0
    K, L = cfg["steps"], cfg["levels"]
    if cfg["cond_channels"]:  # layer 0: the condition's ActNorm, its logdet not counted
        y = layer_forward(layers[0][0], layers[0][1], y, np.zeros(n), 0)
        i = 1
    for level in range(L):
        count = 3 * K + (1 if cfg["multiscale"] else 0)
        count += cfg["learn_prior"]  # the level's prior: after its steps, before its split
        if cfg["cond_channels"] and cfg["multiscale"]:  # y squeezed as x is, never split
            y = squeeze(y, cfg["squeeze"] == "haar")
        for kind, B, _ in layers[i:i + count]:
            x = layer_forward(kind, B, x, logdet, cfg["coupling_min_scale"], y if kind.startswith("coupling") else None)
        i += count
        if cfg["multiscale"] and level < L - 1:  # split: the last c - c/2 channels leave as latents
            keep = x.shape[1] // 2
            zs.append(x[:, keep:].reshape(n, -1))
            x = x[:, :keep]
    zs.append(x.reshape(n, -1))
    return np.concatenate(zs, axis=1), logdet

def expected_kinds(cfg):
    step = ["actnorm", "conv1x1", "coupling_" + cfg["coupling"]]
    level = ([cfg["squeeze"] if cfg["squeeze"] == "haar" else "squeeze"] if cfg["multiscale"] else []) + step * cfg["steps"]
    return ["actnorm"] * (cfg["cond_channels"] > 0) + (level + ["prior"] * cfg["learn_prior"]) * cfg["levels"]

# ------------------------------------------------------------------ the checks
for name in ("vector", "image_a", "image_b", "image_prior", "image_cond", "image_cond_b"):
    cfg, layers, f = read_model(f"{work}/{name}.h5")
    check([k for k, _, _ in layers] == expected_kinds(cfg), f"{name}: layer order")
    shape = (cfg["channels"], cfg["height"], cfg["width"])
    x = np.loadtxt(f"{work}/{name}_x.txt", ndmin=2).reshape((-1,) + shape)
    z_nflow = np.loadtxt(f"{work}/{name}_z.txt", ndmin=2)
    ld_nflow = np.loadtxt(f"{work}/{name}_logdet.txt")
    for kind, B, g in layers:
        check(kind != "actnorm" or int(g.attrs["initialized"]) == 1, f"{name}: trained ActNorm initialised")
    if name == "vector":  # one layer by itself: ActNorm
        kind, B, _ = layers[0]
        y = layer_forward(kind, B, x.astype(np.float64), np.zeros(len(x)), cfg["coupling_min_scale"])
        y_nflow = np.loadtxt(f"{work}/vector_actnorm_y.txt", ndmin=2).reshape(y.shape)
        err = np.max(np.abs(y - y_nflow)) / np.max(np.abs(y_nflow))
        print(f"actnorm: max relative error {err:.2e}")
        check(err < 1e-6, "ActNorm rebuilt in numpy")
    y = None
    if cfg["cond_channels"]:
        check(list(layers[0][2].attrs["in_shape"]) == [cfg["cond_channels"], cfg["depth"], cfg["height"], cfg["width"]],
              f"{name}: layer 0 is the condition's ActNorm")
        y = np.loadtxt(f"{work}/{name}_y.txt", ndmin=2).reshape((-1, cfg["cond_channels"]) + shape[1:])
    z, ld = glow_forward(cfg, layers, x.astype(np.float64), y)
    ez = np.max(np.abs(z - z_nflow)) / np.max(np.abs(z_nflow))
    el = np.max(np.abs(ld - ld_nflow)) / max(1.0, np.max(np.abs(ld_nflow)))
    if cfg["learn_prior"]:  # trained away from the zero start, so the check sees them
        check(all(np.any(B[k] != 0) for kind, B, _ in layers if kind == "prior" for k in B), f"{name}: priors trained")
    print(f"{name}: {cfg['conv1x1']}, {cfg['coupling']}, {cfg['squeeze'] if cfg['multiscale'] else 'no squeeze'}, "
          f"prior {'learned' if cfg['learn_prior'] else 'N(0, I)'}, condition of {cfg['cond_channels']} channels: "
          f"z error {ez:.2e}, logdet error {el:.2e}")
    check(ez < 1e-4 and el < 1e-4, f"{name}: whole Glow rebuilt in numpy")

# checkpoint: the model plus optimiser and training state
cfg, layers, f = read_model(f"{work}/part2.h5", "nflow-checkpoint")
o, t = f["optimizer"], f["train_state"]
nparams = int(f.attrs["nparams"])
check(text(o.attrs["type"]) == "adam", "optimizer type")
for k in ("lr", "beta1", "beta2", "eps", "weight_decay"):
    check(o.attrs[k].dtype == np.float64, f"optimizer {k}")
check(int(o.attrs["step"]) == 5, "optimizer step")
check(o["m"].shape == (nparams,) and o["v"].shape == (nparams,), "moments m, v")
check(np.all(o["v"][...] >= 0), "v >= 0")
check(int(t.attrs["epoch"]) == 0 and int(t.attrs["iteration"]) == 5, "epoch, iteration")
check(int(t.attrs["ndata_pos"]) == 1 and t.attrs["data_pos"].shape == (8,) and t.attrs["data_pos"][0] == 5, "data_pos")
check(t.attrs["rng_state"].shape == (4,) and t.attrs["rng_state"].dtype == np.uint64, "rng_state")
# m and v follow the flat parameter order: block datasets sit at their 'offset'
_, B, g = layers[1]
off = int(g["logscale"].attrs["offset"])
check(o["m"][off:off + B["logscale"].size].shape == B["logscale"].shape, "m sliced by a block's offset")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
EOF
