#!/usr/bin/env python3
"""nflow's bench_glow against the PyTorch peer (../shared/peers/glow_torch.py), alternating.

Every (configuration, K) is run `--rounds` times; in each round nflow and each peer mode
run one after the other (the order rotates between rounds), each in its own process under
/usr/bin/time -v, so slow phases of a shared machine hit all of them alike. A run's
s/step is its median over `--steps` timed steps after `--warmup`; the table shows the
median over rounds of those medians (and the best single step). The OpenBLAS sgemm
ceiling (peers/sgemm_peak.c, 2048^3, same thread count) is measured in the same run,
before and after the sweep, twice each time: with the environment as it is, and with the
core detected (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed for that sgemm process
alone, as on a cluster node that does not set them; this environment sets
OPENBLAS_CORETYPE=Haswell, which limits OpenBLAS to AVX2). nflow's executed GFLOP/s is
reported against both ceilings.

  tools/bench/bench_vs_torch.py --bench build-perf/bench_glow                 # B1 and B2
  tools/bench/bench_vs_torch.py --bench build-perf/bench_glow --configs B1 --K 32 64
  tools/bench/bench_vs_torch.py --bench build-perf/bench_glow --configs B3    # memory, 1 step
  tools/bench/bench_vs_torch.py --bench build/bench_glow --configs B1 --K 4 --rounds 1 --steps 1 --modes
                                                      # smoke: both ceilings and one nflow run, no peer

Threads: both get --threads (default 2). The peer runs with its "tuned" profile
(OMP_NUM_THREADS, OPENBLAS_NUM_THREADS=1, glibc malloc thresholds, as bench_torch.py
does); nflow runs with those variables removed and `--threads`, i.e. as a user would run
it without any environment tuning. --unset-openblas-env removes OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE for every process of the run (nflow, peer and sgemm_peak alike).
Needs /usr/bin/python3 with python3-torch for the peer and /usr/bin/time.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

import run_env

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "peers"))
TORCH_PY = "/usr/bin/python3"

CONFIGS = {
    "B1": dict(channels=1, size=32, batch=64, hidden=64, L=3, K=[4, 8, 16, 32, 64], steps=5, warmup=1,
               modes=["plain", "invert"]),
    "B2": dict(channels=1, size=64, batch=64, hidden=64, L=4, K=[12], steps=5, warmup=1, modes=["plain", "invert"]),
    # memory at scale: one step, no warm-up; plain PyTorch needs ~0.42 GiB per K here, so it
    # only runs where it fits (K=4); invert up to K=16 (about 2.4 s per K)
    "B3": dict(channels=3, size=256, batch=8, hidden=256, L=3, K=[4, 16, 80], steps=1, warmup=0,
               modes=["plain", "invert"], peer_max_K={"plain": 4, "invert": 16}),
}


def base_env(a):
    return run_env.base_env(a.unset_openblas_env)


def peer_env(a):
    return run_env.peer_env(a.threads, a.unset_openblas_env)


def nflow_env(a):
    return run_env.nflow_env(a.unset_openblas_env)


CEILINGS = ("env", "detected")  # the environment as it is; the core detected (OpenBLAS variables removed)


def sgemm_ceiling(a, tmp, kind):
    """(GFLOP/s, OpenBLAS core) of the 2048^3 sgemm, kind "env" or "detected"."""
    exe = os.path.join(tmp, "sgemm_peak")
    if not os.path.exists(exe):
        subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(PEERS, "sgemm_peak.c"), "-lopenblas"], check=True)
    env = base_env(a)
    if kind == "detected":
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    p = subprocess.run([exe, "2048", str(a.threads), "5"], env=env, capture_output=True, text=True, check=True)
    g = float(re.search(r"SGEMM_PEAK_GFLOPS ([0-9.]+)", p.stdout).group(1))
    core = re.search(r"openblas core=(\S+)", p.stdout).group(1)
    return g, core


def sgemm_ceilings(a, tmp, when):
    """Both ceilings, printed; {kind: (GFLOP/s, core)}."""
    c = {k: sgemm_ceiling(a, tmp, k) for k in CEILINGS}
    print(f"# sgemm 2048^3 ceiling {when} the sweep: {c['env'][0]:.1f} GFLOP/s with the environment as it is "
          f"(OpenBLAS core {c['env'][1]}), {c['detected'][0]:.1f} with the core detected (core {c['detected'][1]})",
          flush=True)
    return c


def timed(cmd, env, timeout):
    """Runs cmd under /usr/bin/time -v; returns (stdout, max RSS MiB, error or None)."""
    try:
        p = subprocess.run(["/usr/bin/time", "-v"] + cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "", float("nan"), "timeout"
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    rss = int(m.group(1)) / 1024.0 if m else float("nan")
    if p.returncode != 0:
        tail = p.stderr.split("\tCommand being timed:")[0].strip().splitlines()
        return p.stdout, rss, f"rc={p.returncode}: {tail[-1][-300:] if tail else ''}"
    return p.stdout, rss, None


def run_nflow(a, cfg, name, K):
    cmd = [a.bench, "--config", name, "--channels", str(cfg["channels"]), "--size", str(cfg["size"]),
           "--batch", str(cfg["batch"]), "--hidden", str(cfg["hidden"]), "--L", str(cfg["L"]), "--K", str(K),
           "--steps", str(cfg["steps"]), "--warmup", str(cfg["warmup"]), "--threads", str(a.threads)]
    out, rss, err = timed(cmd, nflow_env(a), a.timeout)
    line = next((l for l in out.splitlines() if l.startswith('{"tool": "nflow"')), None)
    if err or not line:
        return dict(tool="nflow", K=K, error=err or "no JSON line")
    r = json.loads(line)
    r["time_v_maxrss_mib"] = rss
    return r


def run_peer(a, cfg, mode, K):
    cmd = [TORCH_PY, os.path.join(PEERS, "glow_torch.py"), "--mode", mode, "--K", str(K), "--L", str(cfg["L"]),
           "--hidden", str(cfg["hidden"]), "--batch", str(cfg["batch"]), "--channels", str(cfg["channels"]),
           "--size", str(cfg["size"]), "--steps", str(cfg["steps"]), "--warmup", str(cfg["warmup"]),
           "--threads", str(a.threads)]
    if a.peer_as_limit_gib:
        cmd = ["prlimit", f"--as={int(a.peer_as_limit_gib * 1024 ** 3)}"] + cmd
    out, rss, err = timed(cmd, peer_env(a), a.timeout)
    line = next((l for l in out.splitlines() if l.startswith("RESULT ")), None)
    if err or not line:
        return dict(tool=mode, K=K, error=err or "no RESULT line")
    r = json.loads(line[len("RESULT "):])
    r["tool"] = mode
    r["time_v_maxrss_mib"] = rss
    return r


def summarise(runs):
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return None
    return dict(median_s=statistics.median(r["median_s"] for r in ok), min_s=min(r["min_s"] for r in ok),
                rss_mib=max(r["time_v_maxrss_mib"] for r in ok), rounds=len(ok), last=ok[-1])


def fmt(x, spec):
    return format(x, spec) if x is not None else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", required=True, help="path of the bench_glow binary")
    ap.add_argument("--configs", nargs="+", default=["B1", "B2"], choices=sorted(CONFIGS))
    ap.add_argument("--K", type=int, nargs="+", help="override the K values of every configuration")
    ap.add_argument("--modes", nargs="*", help="peer modes (default: the configuration's, plain and invert; "
                    "none given: nflow alone)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, help="override the timed steps")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=560, help="seconds per process")
    ap.add_argument("--peer-as-limit-gib", type=float, default=None,
                    help="address-space cap for peer processes (prlimit --as)")
    ap.add_argument("--unset-openblas-env", action="store_true",
                    help="remove OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for every process (benchmark only)")
    ap.add_argument("--out", default=None, help="JSON file for all runs")
    a = ap.parse_args()
    a.bench = os.path.abspath(a.bench)

    results, tmp = [], tempfile.mkdtemp(prefix="nflow_bench_")
    env_note = "unset for this run" if a.unset_openblas_env else (
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
        f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")
    print(f"# nflow vs PyTorch peer  {datetime.datetime.now().isoformat(timespec='seconds')}  threads={a.threads}  "
          f"rounds={a.rounds}  OpenBLAS env: {env_note}")
    ceil0 = sgemm_ceilings(a, tmp, "before")
    rows = []
    for name in a.configs:
        cfg = dict(CONFIGS[name])
        if a.steps:
            cfg["steps"] = a.steps
        modes = cfg["modes"] if a.modes is None else a.modes
        for K in (a.K or cfg["K"]):
            runs = {t: [] for t in ["nflow"] + modes}
            for rnd in range(a.rounds):
                order = ["nflow"] + modes
                order = order[rnd % len(order):] + order[:rnd % len(order)]  # rotate: nobody always goes first
                for t in order:
                    if t != "nflow" and K > cfg.get("peer_max_K", {}).get(t, 10 ** 9):
                        continue
                    r = run_nflow(a, cfg, name, K) if t == "nflow" else run_peer(a, cfg, t, K)
                    r.update(config=name, round=rnd)
                    results.append(r)
                    runs[t].append(r)
                    if "error" in r:
                        print(f"#   {name} K={K} {t}: ERROR {r['error']}", flush=True)
            s = {t: summarise(v) for t, v in runs.items()}
            rows.append((name, K, cfg, s))
            n, pl, iv = s.get("nflow"), s.get("plain"), s.get("invert")
            print(f"#   {name} K={K}: nflow {fmt(n and n['median_s'], '.3f')} s, plain "
                  f"{fmt(pl and pl['median_s'], '.3f')} s, invert {fmt(iv and iv['median_s'], '.3f')} s", flush=True)
    ceil1 = sgemm_ceilings(a, tmp, "after")
    peak = {k: max(ceil0[k][0], ceil1[k][0]) for k in CEILINGS}  # the better of before and after

    print(f"# ceilings used: {peak['env']:.1f} GFLOP/s (environment as it is), {peak['detected']:.1f} (core "
          f"detected)")
    print("# s/step = median over rounds of each run's median; RSS = /usr/bin/time -v peak (MiB); "
          "RSS-state = nflow RSS minus parameters, gradients, Adam moments and frozen flags; GFLOP/s = nflow executed "
          "(4x forward conv FLOPs) / s/step; % sgemm env / detected = GFLOP/s against each ceiling")
    print()
    print("| config | K | nflow s/step | plain s/step | invert s/step | nflow/plain | nflow/invert | nflow RSS | "
          "RSS-state | plain RSS | invert RSS | nflow GFLOP/s | % sgemm env | % sgemm detected |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, K, cfg, s in rows:
        n, pl, iv = s.get("nflow"), s.get("plain"), s.get("invert")
        nm = n and n["median_s"]
        state = n and n["rss_mib"] - n["last"]["param_state_bytes"] / 1048576.0
        gf = n and n["last"]["executed_gflop"] / nm
        print(f"| {name} | {K} | {fmt(nm, '.3f')} | {fmt(pl and pl['median_s'], '.3f')} | "
              f"{fmt(iv and iv['median_s'], '.3f')} | {fmt(pl and nm and nm / pl['median_s'], '.2f')} | "
              f"{fmt(iv and nm and nm / iv['median_s'], '.2f')} | {fmt(n and n['rss_mib'], '.0f')} | "
              f"{fmt(state, '.0f')} | {fmt(pl and pl['rss_mib'], '.0f')} | {fmt(iv and iv['rss_mib'], '.0f')} | "
              f"{fmt(gf, '.1f')} | {fmt(gf and 100 * gf / peak['env'], '.0f')} | "
              f"{fmt(gf and 100 * gf / peak['detected'], '.0f')} |")
    by_cfg = {}
    for name, K, cfg, s in rows:
        if s.get("nflow"):
            n = s["nflow"]
            by_cfg.setdefault(name, []).append((K, n["rss_mib"] - n["last"]["param_state_bytes"] / 1048576.0))
    for name, v in by_cfg.items():
        if len(v) > 1:
            v.sort()
            print(f"# {name}: nflow RSS minus parameter state at K={v[-1][0]} is {v[-1][1] / v[0][1]:.3f}x "
                  f"the K={v[0][0]} value ({v[-1][1]:.0f} vs {v[0][1]:.0f} MiB)")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(dict(args=vars(a), sgemm={k: dict(gflops=[ceil0[k][0], ceil1[k][0]], core=ceil0[k][1])
                                                for k in CEILINGS}, results=results), f, indent=1)
        print(f"# all runs: {a.out}")


if __name__ == "__main__":
    sys.exit(main())
