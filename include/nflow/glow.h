/*
 * nflow/glow.h — multiscale Glow and conditional Glow for images and volumes (included by
 * nflow.h): the configuration, its defaults (among them the coupling scale floors chosen by
 * measurement) and the constructor.
 */
#ifndef NFLOW_GLOW_H
#define NFLOW_GLOW_H

#include "nflow.h"

#ifdef __cplusplus
extern "C" {
#endif
typedef enum nf_squeeze_kind { NF_SQUEEZE_SPACE = 0, NF_SQUEEZE_HAAR = 1 } nf_squeeze_kind;
typedef enum nf_coupling_kind { NF_COUPLING_AFFINE = 0, NF_COUPLING_ADDITIVE = 1 } nf_coupling_kind;

typedef struct nf_glow_config {
    int channels, volume_depth, height, width; /* per-sample input C, D, H, W (D = 1 for images) */
    int hidden;                  /* coupling sub-network width */
    int levels;                  /* L */
    int steps;                   /* K flow steps (actnorm, 1x1 conv, coupling) per level: the
                                    depth of the flow (the CLI's --depth), not volume_depth */
    int multiscale;              /* 1: squeeze each level, split after all but the last;
                                    0: no squeeze, no split (vector data as 1x1 images) */
    nf_squeeze_kind squeeze;
    nf_coupling_kind coupling;
    nf_conv1x1_kind conv1x1;
    double coupling_min_scale;   /* affine couplings: the floor of s, in (0, 1) (see
                                    NF_COUPLING_MIN_SCALE); saved in model files */
    int learn_prior;             /* 1: the factored-out half at each split is N(m, exp(ls)^2)
                                    with (m, ls) from a zero-initialised 3x3 conv of the
                                    half that continues, and the last level's output has a
                                    learned per-channel mean and log scale (nf_prior_create);
                                    0: every latent is N(0, 1). Saved in model files. */
    int cond_channels;           /* > 0: conditional Glow, p(x | y) (InvertibleNetworks.jl's
                                    NetworkConditionalGlow): y has cond_channels channels and x's
                                    D, H, W; it goes through its own ActNorm (layer 0, no logdet),
                                    is squeezed with x at every level (never split) and every
                                    coupling's NN reads concat(xb, y). 0: unconditional. */
    uint64_t seed;               /* parameter initialisation */
} nf_glow_config;

/* The coupling scale floor of nf_glow_config_default: inverting a coupling amplifies an
 * error at most 10x. Chosen by measurement (docs/stability.md): on Fashion-MNIST it
 * removed every recomputed step (largest rebuild error 7e-6 against 4.9e8 with 1e-3)
 * and trained as well (3.88 bits/dim against 3.90). --min-scale 1e-3 is the old one. */
#define NF_GLOW_MIN_SCALE_DEFAULT 0.1
/* The floor nflow train gives a conditional Glow (--cond) unless --min-scale is given:
 * s in [0.5, 1], as InvertibleNetworks.jl's conditional seismic examples. With 0.1 a
 * posterior sampler exploded: off the data, the coupling nets see inputs larger than in
 * training, drive s to the floor, and each such coupling multiplies the sample by up to
 * 10 on its way down, which enlarges the next coupling's input (docs/stability.md,
 * "Exploding posterior samples"). Sampling runs the inverse; 0.5 caps a coupling's
 * gain at 2. Library users set nf_glow_config.coupling_min_scale to it themselves. */
#define NF_GLOW_COND_MIN_SCALE_DEFAULT 0.5
/* Defaults: hidden 64, L 3, K 8, multiscale, space squeeze, affine, LU 1x1, seed 1,
 * coupling scale floor NF_GLOW_MIN_SCALE_DEFAULT, no learned prior. */
nf_glow_config nf_glow_config_default(int channels, int height, int width);
/* Checks the configuration (positive sizes, sizes divisible by 2^L, ...). */
nf_status nf_glow_config_check(const nf_glow_config *cfg);
/* Multiscale Glow (Kingma & Dhariwal 2018). z holds, per sample, the latents in the
 * order they were factored out (level 1 first), the last level's output last. */
nf_status nf_glow_create(nf_flow **out, const nf_glow_config *cfg);
/* The configuration of a Glow flow, NULL for other flows. */
const nf_glow_config *nf_glow_get_config(const nf_flow *f);

#ifdef __cplusplus
}
#endif

#endif
