/* nflow_datasets: converters and generators that write nflow's HDF5 datasets (the format
 * is in datasets/README.md). Each call writes "<out>.partial" and renames it to <out> when
 * complete, so a failed or killed conversion never leaves a half-written dataset; each
 * returns an nf_status with nf_last_error() set, prints nothing, and is callable from the
 * CLI. Link nflow_datasets (and nflow). */
#ifndef NFLOW_DATASETS_H
#define NFLOW_DATASETS_H

#include <nflow.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Debian's dataset-fashion-mnist installs the IDX files here. */
#define NF_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Fashion-MNIST IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 * t10k-…) in idx_dir (NULL: NF_FASHION_MNIST_DIR) -> out_path holding /train/x
 * (60000, 1, 28, 28) uint8, /train/y (60000,) uint8, /test/x (10000, 1, 28, 28),
 * /test/y. pad32: a zero border of 2 pixels makes the images 32 x 32 (for 5-level Glows). */
nf_status nf_convert_fashion_mnist(const char *idx_dir, const char *out_path, int pad32);

/* n samples of a toy density (a name nf_sample_toy knows) drawn with seed, written in
 * pieces of 65536 -> out_path:/x (n, 2, 1, 1) float32 with their nflow_mean/nflow_std. */
nf_status nf_convert_toy(const char *out_path, const char *density, long long n, uint64_t seed);

/* sbibm's gaussian_linear task for conditional flows: n pairs theta ~ N(0, 0.1 I) in R^10,
 * x | theta ~ N(theta, 0.1 I) -> /theta (n, 10) and /x (n, 10) float32 (train with
 * --data FILE:/theta --cond FILE:/x), and nobs fresh pairs -> /obs/theta, /obs/x and the
 * exact posterior means /obs/posterior_mean = /obs/x / 2 (the posterior is
 * N(x / 2, 0.05 I); root attributes task, prior_var, noise_var, posterior_var, seed). */
nf_status nf_generate_gaussian_linear(const char *out_path, long long n, long long nobs, uint64_t seed);
/* The conditional two moons: n points of the two moons (the arcs of the moons toy,
 * noise 0.05) -> /x (n, 2) float32, their moon /y (n, 1) float32 (0 upper, 1 lower). */
nf_status nf_generate_cond_moons(const char *out_path, long long n, uint64_t seed);

/* SEG-Y (big-endian, IBM or IEEE float or 1/2/4-byte integer samples) -> patches. */
typedef struct nf_segy_options {
    const char *input;   /* SEG-Y file */
    const char *output;  /* HDF5 file written: /x patches, /origin where each came from */
    int cube;            /* 0: 2-D sections (every inline of a 3-D survey, or the whole file
                            as one line when it has no inline/crossline geometry);
                            1: 3-D cubes of a post-stack survey */
    int patch[3];        /* 2-D: (time, trace); 3-D: (time, inline, crossline) */
    int stride[3];       /* step between patches per axis; 0: the patch size (no overlap) */
    int il_byte;         /* trace header byte of the inline number [189] */
    int xl_byte;         /* ... of the crossline number [193] */
} nf_segy_options;

/* Patches as (N, 1, pt, ptr) or (N, 1, pt, pil, pxl) float32, time first, with
 * /origin (N, 3) int32 = (section, t0, trace0) or (t0, il0, xl0) as 0-based indices.
 * NF_ERR_STATE when nflow was built without libsegyio. */
nf_status nf_convert_segy(const nf_segy_options *o);
/* 1 if nf_convert_segy is available (libsegyio found at build time). */
int nf_have_segyio(void);

/* Synthetic seismic: per sample, a layered earth (random layer count and depths,
 * log-impedance random walk) whose horizons are folded (sinusoids, amplitude growing with
 * depth) and possibly cut by one fault (dipping plane, hanging wall shifted by the throw);
 * reflectivity r at each horizon, placed with linear interpolation between samples; trace =
 * r convolved with a Ricker wavelet (1 - 2 pi^2 f0^2 t^2) exp(-pi^2 f0^2 t^2), plus optional
 * noise. Writes /x (the seismic), /reflectivity (same shape), /throw (n,) signed throw in
 * samples (0: no fault), /wavelet (the Ricker samples used). With observe, also /y (same
 * shape): what a survey records, /x plus white Gaussian noise at snr_db per sample
 * (10 log10(mean x^2 / sigma^2) over the sample), drawn from a second stream of the seed so
 * that /x does not change with it: the pairs (x, y) of a posterior p(x | y). */
typedef struct nf_seismic_options {
    const char *output;   /* HDF5 file written */
    long long n;          /* samples */
    int cube;             /* 0: sections (n, 1, nt, nx); 1: cubes (n, 1, nt, ny, nx) */
    int nt, nx, ny;       /* time samples, traces, lines (cubes only) */
    double dt;            /* sample interval in seconds */
    double f0;            /* Ricker peak frequency in Hz */
    int layers_min, layers_max;
    double fold_amp;      /* fold amplitude in samples at mid depth (0: flat layers) */
    double fault_prob;    /* chance that a sample has a fault */
    double throw_min, throw_max; /* |throw| in samples, drawn uniformly; sign random */
    double noise;         /* Gaussian noise std relative to the sample's rms (0: none) */
    int observe;          /* 1: also write /y, an observation of /x at snr_db */
    double snr_db;        /* /y = /x + Gaussian noise of std rms(x) 10^(-snr_db/20) per sample */
    uint64_t seed;
} nf_seismic_options;

/* 2-D 64 x 64, dt 4 ms, f0 25 Hz, 5-15 layers, folds of 3 samples, faults half the time
 * with throws of 2-8 samples, no noise, seed 1; n = 0 and output = NULL must be set. */
nf_seismic_options nf_seismic_options_default(void);
nf_status nf_generate_seismic(const nf_seismic_options *o);

/* A NumPy .npy array (format 1-3, C order, either byte order; bool, u1..u8, i1..i8, f2,
 * f4, f8; rank 1 to 5) -> output:/x with its element type and shape unchanged (stored
 * little-endian, bool as uint8), copied in pieces of about 4 MiB. labels: an optional
 * second .npy of the same length -> /y. layout: NF_LAYOUT_AUTO writes no attribute (nflow
 * guesses when reading), any other value is recorded as nflow_layout. Fortran-order
 * arrays, other element types and truncated files fail with NF_ERR_FORMAT. */
typedef struct nf_npy_options {
    const char *input;   /* .npy file of the data */
    const char *labels;  /* .npy file of labels or conditioning data, or NULL */
    const char *output;  /* HDF5 file written */
    nf_layout layout;    /* recorded as the nflow_layout attribute unless NF_LAYOUT_AUTO */
} nf_npy_options;

nf_status nf_convert_npy(const nf_npy_options *o);

/* A folder of PNG and JPEG pictures (found by their first bytes, recursively; the
 * entries of each folder in byte order of their names; names starting with '.' skipped)
 * -> output holding
 *   /x            (N, C, H, W) uint8, nflow_layout "NCHW": C = 3 (RGB) or 1 (gray, ITU-R
 *                 601 luma); every picture scaled, keeping its aspect ratio, to cover H x W
 *                 and centre-cropped (crop: centre-cropped at its own scale, smaller ones
 *                 skipped); H x W = height x width, or the first picture's size when 0;
 *                 transparent PNG pixels composited on black
 *   /y            (N,) int32: the index of the picture's sub-folder of dir in /class_names
 *   /class_names  (K,) strings: the sub-folders of dir, sorted, then "." when pictures lie
 *                 directly in dir
 *   /names        (N,) strings: each picture's path below dir
 * Pictures are decoded one at a time and written a chunk at a time, so memory does not
 * grow with the folder. A file that cannot be read or decoded (or has a picture
 * extension but is no PNG/JPEG) is skipped and reported through on_skip; other files are
 * ignored and counted. Fails (and writes nothing) when no picture could be read. */
typedef struct nf_images_options {
    const char *dir;     /* the folder */
    const char *output;  /* HDF5 file written */
    int height, width;   /* output size; 0, 0: the first picture's */
    int gray;            /* 1: one gray channel; 0: RGB */
    int crop;            /* 1: centre-crop only (no scaling) */
    void (*on_skip)(void *ctx, const char *path, const char *why); /* each bad file; may be NULL */
    void *ctx;
} nf_images_options;

typedef struct nf_images_result {
    long long written;   /* pictures in /x */
    long long skipped;   /* bad files (reported through on_skip) */
    long long ignored;   /* files that are not pictures */
    int height, width, channels;
    int classes;         /* entries of /class_names */
    char size_from[512]; /* the picture whose size was taken, when the size was not given */
} nf_images_result;

nf_status nf_convert_images(const nf_images_options *o, nf_images_result *r);

#ifdef __cplusplus
}
#endif
#endif
