"""The environments nflow and the PyTorch peer run in for the benchmarks against it
(bench_vs_torch.py, time_to_quality.py).

nflow runs as a user would, with no tuning variable: it owns the cores itself
(nf_set_threads, --threads). The peer runs with ../shared/peers' "tuned" profile:
OMP_NUM_THREADS = threads, OPENBLAS_NUM_THREADS = 1, glibc malloc thresholds that keep
its large activation buffers mapped (bench_torch.py). unset_openblas removes
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for that process alone (the core detected, as on
a node that does not force Haswell's kernels).
"""
import os

TUNING = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_",
          "MALLOC_TRIM_THRESHOLD_")


def base_env(unset_openblas):
    env = dict(os.environ)
    if unset_openblas:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    return env


def peer_env(threads, unset_openblas):
    env = base_env(unset_openblas)
    env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1",
               MALLOC_MMAP_THRESHOLD_=str(32 * 1024 * 1024), MALLOC_TRIM_THRESHOLD_=str(4 * 1024 ** 3))
    return env


def nflow_env(unset_openblas):
    env = base_env(unset_openblas)
    for k in TUNING:
        env.pop(k, None)
    return env
