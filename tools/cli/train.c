/* nflow train: flags -> cli_train_config -> train_run. */
#include "train.h"

#include "args.h"
#include "cli.h"
#include "datasrc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "NAME\n"
    "  nflow train - train a normalizing flow by maximum likelihood\n\n"
    "SYNOPSIS\n"
    "  nflow train --data SPEC [options]\n"
    "  nflow train --resume DIR/checkpoint.h5 [options]\n\n"
    "DESCRIPTION\n"
    "  Trains a Glow flow with invertible backpropagation on an HDF5 dataset or a built-in\n"
    "  toy density, minimising mean(0.5|z|^2 - logdet) per sample (the Gaussian 2 pi term\n"
    "  left out, as in the tutorials). Shows a progress bar on a terminal and plain log\n"
    "  lines otherwise; writes into --out: metrics.csv and metrics.jsonl (every step),\n"
    "  checkpoint.h5 (every --checkpoint-every steps and at the end), model.h5, args.txt\n"
    "  (the flags, used by --resume), training_curves.png, training.gif and, for 2-D data,\n"
    "  samples.png, trajectories.png, warp.png; for images, samples.png (a grid); for\n"
    "  volumes, samples.png of 16 panels of middle slices (see nflow sample --help).\n"
    "  Validation runs at every epoch end and at the end of training.\n\n"
    "  If the loss or the gradient becomes NaN/Inf, or the loss jumps far above its recent\n"
    "  level (--loss-jump), the parameters and Adam state go back to the last good step\n"
    "  (kept in memory), the learning rate is halved for --recover-steps steps and a line\n"
    "  on stderr says so; a failure while the rate is halved --max-rollbacks times stops\n"
    "  the run with exit status 4 and the last good parameters in DIR/model_last_good.h5.\n\n"
    "  Every step measures how well the backward rebuilt the batch from the latents\n"
    "  (metrics column rebuild_error); a step off by more than --rebuild-tol is recomputed\n"
    "  exactly from stored layer inputs, for that step only (column recomputed).\n\n"
    "DATA\n"
    "  --data SPEC           FILE.h5:/DATASET (N,C,H,W), (N,H,W,C), (N,H,W), (N,C,D,H,W) or\n"
    "                        (N,C), uint8/uint16/int16/float16/float32/float64; integers are\n"
    "                        dequantised, floats\n"
    "                        normalised per channel (see --normalize); or toy:NAME with\n"
    "                        NAME one of " CLI_TOY_NAMES "\n"
    "  --cond SPEC           conditioning data y of the same N (FILE.h5:/y, or /y in --data's\n"
    "                        file): learn p(x | y), the pairs read and shuffled together;\n"
    "                        y is used as stored. Glow (images, volumes): conditional Glow,\n"
    "                        y (N, Cy, [D,] H, W) of x's spatial size and its own channels,\n"
    "                        through its own ActNorm, squeezed with x at every level and read\n"
    "                        by every coupling. --flow sequential: conditional layers, e.g.\n"
    "                        --spec 'summary(hidden=64x2,out=16), cond_spline(hidden=64x2)*6'\n"
    "                        [cond_realnvp(hidden=64x2,act=leakyrelu)*8], y of any shape;\n"
    "                        conditional HINT (x and y jointly, the loss -log p(x, y)):\n"
    "                        --spec 'actnorm, cond_hint(hidden=32x2,steps=4)'; on images and\n"
    "                        volumes (convolutional, y of x's spatial size, both >= 2\n"
    "                        channels): --spec 'actnorm, cond_hint_conv(hidden=32,steps=4)'\n"
    "                        (key floor=F: the couplings' scale floor, in (0, 1) [0.001])\n"
    "  --val SPEC|none       validation data [toy: fresh samples; HDF5: the last --val-split\n"
    "                        of the training file]\n"
    "  --val-split F         fraction of an HDF5 training file held out [0.05]\n"
    "  --val-size N          validation samples evaluated [10000]\n"
    "  --val-every N         validate after every N steps as well [off: at epoch ends and at\n"
    "                        the end]; metrics.csv's eval_s counts the seconds spent in\n"
    "                        validation, which time_s includes\n"
    "  --train-size N        toy: samples in the training set [60000]\n"
    "  --normalize MODE      float data: auto|none|stored|compute [auto: stored attributes\n"
    "                        if present]\n"
    "  --batch N             samples per step [64]; under mpirun/srun the global batch,\n"
    "                        shared by the ranks (docs/cluster.md)\n"
    "  --layout L            where HDF5 data keeps its channels: auto|nchw|nhwc|ndhw [auto:\n"
    "                        the nflow_layout attribute, else guessed from the shape (a last\n"
    "                        axis of 1, 3 or 4 below larger spatial axes is channels last),\n"
    "                        said in one line; ambiguous shapes are refused]; (N, H, W) is\n"
    "                        one channel; ndhw reads (N, D, H, W) as a one-channel volume\n\n"
    "MODEL\n"
    "  --flow TYPE           glow or sequential [glow]\n"
    "  --spec SPEC           sequential: the layers, e.g. 'realnvp(hidden=24x3,act=leakyrelu)*9',\n"
    "                        '(actnorm, linear(lu=1), spline(bins=8))*3', 'maf(hidden=24x3)*4'\n"
    "                        [realnvp(hidden=24x3,act=leakyrelu)*9]; see nf_sequential_from_spec\n"
    "  --levels L            multiscale levels [3]\n"
    "  --depth K             flow steps (actnorm, 1x1 conv, coupling) per level [8]\n"
    "  --hidden N            coupling sub-network width [64]\n"
    "  --coupling KIND       affine|additive [affine]\n"
    "  --squeeze KIND        space|haar|none [space]; none = no squeeze and no split (vector\n"
    "                        data and 2-D toys must use none)\n"
    "  --conv1x1 KIND        lu|householder [lu]\n"
    "  --min-scale X         affine coupling: floor of the scale s (inverting a coupling\n"
    "                        amplifies errors and samples by at most 1/X) [0.1; 0.5 with\n"
    "                        --cond: a posterior sampler at 0.1 exploded]\n"
    "  --learn-prior         learned Gaussian priors (openai/glow): the half factored out\n"
    "                        at each split is N(m, exp(ls)^2) with (m, ls) from a 3x3 conv\n"
    "                        of the half that continues, the top latent has a learned\n"
    "                        per-channel mean and scale; all start at N(0, 1) [off]\n"
    "  --no-learn-prior      every latent N(0, 1)\n\n"
    "OPTIMISATION\n"
    "  --lr X                Adam learning rate [1e-3]\n"
    "  --schedule KIND       constant|cosine|step [constant]\n"
    "  --lr-min X            cosine: the rate reached at the last step [0]\n"
    "  --warmup N            linear warm-up steps [0]\n"
    "  --lr-step N           step: multiply by --lr-gamma every N steps\n"
    "  --lr-gamma X          step: the factor [0.5]\n"
    "  --weight-decay X      decoupled weight decay (AdamW) [0]\n"
    "  --clip X              clip the gradient 2-norm to X [off]\n"
    "  --clip-rel K          clip the gradient 2-norm to K times its recent typical value\n"
    "                        (the geometric mean of about the last 100 steps; needs no\n"
    "                        tuning per data set, 2.5 is a start) [off]\n"
    "  --steps N             optimiser steps in total (not with --epochs)\n"
    "  --epochs X            passes over the training data [1]\n"
    "  --stop-after N        this process stops after N steps (schedule unchanged), writing\n"
    "                        the checkpoint and model as at the end; --resume continues\n"
    "                        (batch jobs with a time limit) [all]\n"
    "  --seed N              initialisation, data order, noise [1]\n"
    "  --threads N           OpenMP and OpenBLAS threads [from the environment]; per rank\n"
    "                        under mpirun/srun\n"
    "  --mpi-bucket N        under mpirun/srun: the gradient is summed over ranks in buckets of\n"
    "                        N values, each as soon as the backward has finished it (overlap);\n"
    "                        0 = one sum after the backward; the same result either way [262144]\n"
    "  --max-rollbacks N     halvings of the rate in force before giving up; 0 stops at the\n"
    "                        first failure [3]\n"
    "  --recover-steps N     steps without a rollback after which a halved rate doubles back;\n"
    "                        0 keeps it halved [100]\n"
    "  --backoff             a rollback within --recover-steps of the rate coming back\n"
    "                        doubles the next wait [off]\n"
    "  --loss-jump X         a loss more than X bits/dim above its recent level is an\n"
    "                        explosion, rolled back like NaN/Inf; 0 = off [3]\n"
    "  --rebuild-tol X       recompute a step from stored layer inputs when the batch the\n"
    "                        backward rebuilt is off by more than X (relative); 0 = every\n"
    "                        step, -1 = only measure [1e-3]\n"
    "  --rebuild-profile N   every N steps, each layer's rebuild error (which inverse\n"
    "                        amplifies) as a rebuild_profile line in metrics.jsonl [off]\n\n"
    "OUTPUT\n"
    "  --out DIR             output directory [nflow_run; on --resume the checkpoint's]\n"
    "  --checkpoint-every N  write DIR/checkpoint.h5 every N steps [only at the end]\n"
    "  --resume FILE         continue from a checkpoint exactly where it stopped: the flags\n"
    "                        of the original run are read from args.txt beside it, flags\n"
    "                        given now override them (not the architecture); refused if\n"
    "                        the data changed since the checkpoint (shape, type, values)\n"
    "  --allow-data-change   resume on purpose with data other than the checkpoint's\n"
    "  --log-every N         plain log line every N steps [about 20 lines per run]\n"
    "  --quiet               no progress output\n"
    "  --no-plots            no pictures at the end\n"
    "  --gif-every N         a training.gif frame every N steps [about 40 frames]\n"
    "  --no-gif              no training.gif\n"
    "  --dump DIR            for a re-implementation elsewhere (tools/torch/glow_fm.py): writes\n"
    "                        DIR/init.h5 (the model before its first step), DIR/batches.f32\n"
    "                        (every batch a step was taken on, float32 as the flow saw it),\n"
    "                        DIR/val.f32 (the validation samples as evaluated) and\n"
    "                        DIR/dump.json (their shapes); not with --resume, --cond or MPI\n"
    "  --debug-nan-at LIST   testing: poison a parameter after these steps (e.g. 20,40)\n"
    "  --debug-jump          testing: the poison is +10, a finite loss jump, not NaN\n"
    "  --store-activations   debugging: backward from stored layer inputs instead of rebuilt\n"
    "                        ones (memory grows with depth; shows whether reconstruction\n"
    "                        drift causes a problem)\n\n" CLI_EXIT_CODES_HELP
    "\nEXAMPLES\n"
    "  The InvertibleNetworks.jl banana tutorial (400 steps over 60 000 samples):\n"
    "    nflow train --data toy:banana --squeeze none --levels 1 --depth 10 --hidden 16 \\\n"
    "                --batch 150 --lr 9e-4 --out banana\n"
    "  Fashion-MNIST, cosine schedule, a checkpoint every 500 steps:\n"
    "    nflow data fashion-mnist --out fmnist.h5\n"
    "    nflow train --data fmnist.h5:/train/x --val fmnist.h5:/test/x --levels 2 --depth 8 \\\n"
    "                --hidden 64 --batch 64 --lr 1e-3 --schedule cosine --epochs 2 \\\n"
    "                --checkpoint-every 500 --out fmnist_run\n"
    "  After a kill:\n"
    "    nflow train --resume fmnist_run/checkpoint.h5\n";

enum { NOPTS = 58 }; /* room for the flag table (checked at compile time) */

typedef struct train_flags {
    cli_train_config c;
    int flow, coupling, squeeze, conv1x1, schedule, normalize, layout, quiet, no_plots, no_gif;
    int learn_prior, no_learn_prior;
    const char *nan_list;
} train_flags;

static void flags_table(train_flags *f, cli_opt *o) {
    cli_train_config *c = &f->c;
    const double BIG = 1e15;
    cli_opt t[] = {
        {"data", OPT_STR, &c->data},
        {"cond", OPT_STR, &c->cond},
        {"val", OPT_STR, &c->val},
        {"val-split", OPT_REAL, &c->val_split, 0, 0.9},
        {"val-size", OPT_LONG, &c->val_size, 1, BIG},
        {"val-every", OPT_LONG, &c->val_every, 1, BIG},
        {"train-size", OPT_LONG, &c->train_size, 1, 1 << 30},
        {"normalize", OPT_CHOICE, &f->normalize, 0, 0, "auto|none|stored|compute"},
        {"batch", OPT_INT, &c->batch, 1, 1 << 20},
        {"layout", OPT_CHOICE, &f->layout, 0, 0, CLI_LAYOUT_CHOICES},
        {"flow", OPT_CHOICE, &f->flow, 0, 0, "glow|sequential"},
        {"spec", OPT_STR, &c->spec},
        {"levels", OPT_INT, &c->glow.levels, 1, 16},
        {"depth", OPT_INT, &c->glow.steps, 1, 10000},
        {"hidden", OPT_INT, &c->glow.hidden, 1, 1 << 16},
        {"coupling", OPT_CHOICE, &f->coupling, 0, 0, "affine|additive"},
        {"squeeze", OPT_CHOICE, &f->squeeze, 0, 0, "space|haar|none"},
        {"conv1x1", OPT_CHOICE, &f->conv1x1, 0, 0, "lu|householder"},
        {"min-scale", OPT_REAL, &c->glow.coupling_min_scale, 1e-9, 0.999},
        {"learn-prior", OPT_FLAG, &f->learn_prior},
        {"no-learn-prior", OPT_FLAG, &f->no_learn_prior},
        {"lr", OPT_REAL, &c->sched.lr, 1e-12, 10},
        {"schedule", OPT_CHOICE, &f->schedule, 0, 0, CLI_SCHEDULE_CHOICES},
        {"lr-min", OPT_REAL, &c->sched.lr_min, 0, 10},
        {"warmup", OPT_LONG, &c->sched.warmup, 0, BIG},
        {"lr-step", OPT_LONG, &c->sched.step_every, 1, BIG},
        {"lr-gamma", OPT_REAL, &c->sched.gamma, 1e-6, 1},
        {"weight-decay", OPT_REAL, &c->weight_decay, 0, 10},
        {"clip", OPT_REAL, &c->clip, 1e-12, BIG},
        {"clip-rel", OPT_REAL, &c->clip_rel, 1, 1e6},
        {"steps", OPT_LONG, &c->steps, 1, BIG},
        {"epochs", OPT_REAL, &c->epochs, 1e-6, 1e9},
        {"stop-after", OPT_LONG, &c->stop_after, 1, BIG},
        {"seed", OPT_LONG, &c->seed, 0, BIG},
        {"threads", OPT_INT, &c->threads, 1, 1024},
        {"mpi-bucket", OPT_LONG, &c->mpi_bucket, 0, 1L << 28},
        {"max-rollbacks", OPT_INT, &c->max_rollbacks, 0, 100},
        {"recover-steps", OPT_LONG, &c->recover_steps, 0, 1000000000},
        {"backoff", OPT_FLAG, &c->backoff},
        {"out", OPT_STR, &c->out},
        {"checkpoint-every", OPT_LONG, &c->checkpoint_every, 1, BIG},
        {"resume", OPT_STR, &c->resume},
        {"allow-data-change", OPT_FLAG, &c->allow_data_change},
        {"log-every", OPT_LONG, &c->log_every, 1, BIG},
        {"quiet", OPT_FLAG, &f->quiet},
        {"no-plots", OPT_FLAG, &f->no_plots},
        {"gif-every", OPT_LONG, &c->gif_every, 1, BIG},
        {"no-gif", OPT_FLAG, &f->no_gif},
        {"dump", OPT_STR, &c->dump},
        {"debug-nan-at", OPT_STR, &f->nan_list},
        {"debug-jump", OPT_FLAG, &c->poison_jump},
        {"store-activations", OPT_FLAG, &c->store_activations},
        {"rebuild-tol", OPT_REAL, &c->rebuild_tol, -1, 1e30},
        {"loss-jump", OPT_REAL, &c->loss_jump, 0, 1e30},
        {"rebuild-profile", OPT_LONG, &c->rebuild_profile, 1, BIG},
        OPT_END,
    };
    _Static_assert(sizeof t / sizeof t[0] <= NOPTS, "raise NOPTS: the flag table outgrew it");
    memcpy(o, t, sizeof t);
}

/* --cond: HDF5 data, a conditional Glow or a sequential flow (conditional couplings),
 * validation from the held-out end of the same pairs. */
static int check_cond_flags(const cli_train_config *c) {
    if (data_spec_is_toy(c->data))
        return cli_error(CLI_USAGE, "train", "--cond needs HDF5 data (FILE.h5:/x), not %s", c->data);
    if (c->val && strcmp(c->val, "none"))
        return cli_error(CLI_USAGE, "train", "--val with --cond: validation comes from the held-out end of the pairs "
                         "(--val-split) or --val none");
    return CLI_OK;
}

/* Architecture flags cannot change on --resume: the checkpoint has the architecture. */
static const char *const arch_flags[] = {"flow",     "spec",    "levels",  "depth",     "hidden",      "coupling",
                                         "squeeze",  "conv1x1", "min-scale", "learn-prior", "no-learn-prior", NULL};
_Static_assert(sizeof arch_flags / sizeof *arch_flags == CLI_ARCH_COUNT + 1, "arch_flags follows CLI_ARCH_*");

/* Reads DIR(resume)/args.txt into a NULL-terminated argv (argv[0] = "train"); the
 * lines live in *buf. NULL argv when there is no file. */
static char **saved_args(const char *resume, char **buf, int *argc) {
    char path[4200];
    const char *slash = strrchr(resume, '/');
    int dl = slash ? (int)(slash - resume) : 1;
    snprintf(path, sizeof path, "%.*s/args.txt", dl, slash ? resume : ".");
    FILE *f = fopen(path, "r");
    *buf = NULL;
    if (!f) return NULL;
    size_t cap = 0, len = 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        char *p = realloc(*buf, cap = len + n + 1);
        if (!p) break;
        *buf = p;
        memcpy(*buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!*buf) return NULL;
    (*buf)[len] = '\0';
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += (*buf)[i] == '\n';
    char **av = calloc((size_t)lines + 3, sizeof *av);
    if (!av) return NULL;
    av[0] = "train";
    int k = 1;
    for (char *p = *buf, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (!nl) nl = p + strlen(p) - 1;
        else *nl = '\0';
        if (*p) av[k++] = p;
    }
    *argc = k;
    return av;
}

/* --resume names a checkpoint that loads, before its directory's args.txt is read: a
 * directory or a data file is named as such, not reported as a missing --data. */
static int check_resume(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_error(CLI_DATA, "train", "--resume %s is a directory; give the checkpoint in it (%s/checkpoint.h5)",
                         path, path);
    nf_flow *f = NULL;
    nf_adam opt;
    nf_train_state ts;
    memset(&opt, 0, sizeof opt);
    nf_status s = nf_checkpoint_load(&f, &opt, &ts, path);
    if (s != NF_OK) return cli_nf_error(s, "train", "--resume");
    nf_flow_destroy(f);
    nf_adam_free(&opt);
    return CLI_OK;
}

/* Parses the command line (over the saved flags of a resumed run). */
static int parse(train_flags *f, cli_opt *opts, int argc, char **argv, char **saved_buf, char ***saved_argv) {
    memset(f, 0, sizeof *f);
    train_config_default(&f->c);
    flags_table(f, opts);
    int rc = cli_parse("train", argc, argv, opts, help, NULL, 0, NULL);
    if (rc != CLI_OK || !f->c.resume) return rc;
    for (int i = 0; arch_flags[i]; i++)
        if (cli_given(opts, arch_flags[i]))
            return cli_error(CLI_USAGE, "train", "--%s cannot change on --resume: the architecture comes from %s",
                             arch_flags[i], f->c.resume);
    if ((rc = check_resume(f->c.resume)) != CLI_OK) return rc;
    int sargc = 0;
    *saved_argv = saved_args(f->c.resume, saved_buf, &sargc);
    if (!*saved_argv) return CLI_OK;
    /* defaults, then the saved flags, then the command line */
    const char *resume = f->c.resume;
    memset(f, 0, sizeof *f);
    train_config_default(&f->c);
    flags_table(f, opts);
    rc = cli_parse("train", sargc, *saved_argv, opts, help, NULL, 0, NULL);
    if (rc != CLI_OK) return cli_error(rc, "train", "(in the args.txt beside %s)", resume);
    f->c.resume_args = 1;
    for (int i = 0; arch_flags[i]; i++)
        if (cli_given(opts, arch_flags[i])) f->c.resume_arch |= 1u << i;
    for (cli_opt *o = opts; o->name; o++) o->given = 0;
    f->c.out = NULL; /* the output stays beside the checkpoint unless --out is given now */
    return cli_parse("train", argc, argv, opts, help, NULL, 0, NULL);
}

int cmd_train(int argc, char **argv) {
    train_flags f;
    cli_opt opts[NOPTS];
    char *saved_buf = NULL, **saved_argv = NULL;
    char outdir[4200];
    int rc = parse(&f, opts, argc, argv, &saved_buf, &saved_argv);
    cli_train_config *c = &f.c;
    if (rc == CLI_OK && c->resume && !c->out) {
        /* On resume the output stays beside the checkpoint unless --out says otherwise. */
        const char *slash = strrchr(c->resume, '/');
        snprintf(outdir, sizeof outdir, "%.*s", slash ? (int)(slash - c->resume) : 1, slash ? c->resume : ".");
        c->out = outdir;
    }
    if (rc == CLI_OK && !c->out) c->out = "nflow_run";
    if (rc == CLI_OK && !c->data)
        rc = c->resume ? cli_error(CLI_USAGE, "train", "--data is required: there is no args.txt beside %s to take it "
                                   "from", c->resume)
                       : cli_error(CLI_USAGE, "train", "--data is required (FILE.h5:/DATASET or toy:NAME; see --help)");
    if (rc == CLI_OK && cli_given(opts, "steps") && cli_given(opts, "epochs"))
        rc = cli_error(CLI_USAGE, "train", "give --steps or --epochs, not both");
    if (rc == CLI_OK && f.schedule == NF_SCHEDULE_STEP && c->sched.step_every <= 0)
        rc = cli_error(CLI_USAGE, "train", "--schedule step needs --lr-step N");
    if (rc == CLI_OK && c->clip_rel != 0 && !(c->clip_rel > 1))
        rc = cli_error(CLI_USAGE, "train", "--clip-rel must be above 1 (a limit at the typical norm would shrink every "
                       "step), got %g", c->clip_rel);
    if (rc == CLI_OK && f.nan_list) {
        c->n_nan_at = cli_parse_long_list(f.nan_list, c->nan_at, CLI_MAX_NAN_INJECT, 1);
        for (int i = 1; i < c->n_nan_at; i++)
            if (c->nan_at[i] <= c->nan_at[i - 1]) c->n_nan_at = -1;
        if (c->n_nan_at < 0)
            rc = cli_error(CLI_USAGE, "train", "--debug-nan-at: expected up to %d increasing steps like 20,40, got '%s'",
                           CLI_MAX_NAN_INJECT, f.nan_list);
    }
    if (rc == CLI_OK && f.learn_prior && f.no_learn_prior)
        rc = cli_error(CLI_USAGE, "train", "give --learn-prior or --no-learn-prior, not both");
    if (rc == CLI_OK && c->spec && f.flow != 1) rc = cli_error(CLI_USAGE, "train", "--spec needs --flow sequential");
    if (rc == CLI_OK && c->cond) rc = check_cond_flags(c);
    if (rc == CLI_OK && c->dump && (c->resume || c->cond))
        rc = cli_error(CLI_USAGE, "train", "--dump writes a run from its first step for an unconditional flow: not with %s",
                       c->resume ? "--resume (remove --dump from the args.txt beside the checkpoint)" : "--cond");
    if (rc == CLI_OK && f.flow == 1 && !c->spec)
        c->spec = c->cond ? "cond_realnvp(hidden=64x2,act=leakyrelu)*8" : "realnvp(hidden=24x3,act=leakyrelu)*9";
    if (rc == CLI_OK) {
        c->sched.kind = (nf_schedule_kind)f.schedule;
        c->normalize = f.normalize == 0 ? NF_NORM_AUTO : f.normalize == 1 ? NF_NORM_NONE
                       : f.normalize == 2 ? NF_NORM_STORED : NF_NORM_COMPUTE;
        c->layout = f.layout; /* CLI_LAYOUT_CHOICES are in nf_layout's order */
        c->glow.coupling = f.coupling ? NF_COUPLING_ADDITIVE : NF_COUPLING_AFFINE;
        c->glow.multiscale = f.squeeze != 2;
        c->glow.squeeze = f.squeeze == 1 ? NF_SQUEEZE_HAAR : NF_SQUEEZE_SPACE;
        c->glow.conv1x1 = f.conv1x1 ? NF_CONV1X1_HOUSEHOLDER : NF_CONV1X1_LU;
        if (f.learn_prior || f.no_learn_prior) c->glow.learn_prior = f.learn_prior;
        c->quiet = f.quiet;
        c->plots = !f.no_plots;
        if (f.no_gif) c->gif_every = -1;
        if (!cli_given(opts, "steps") && cli_given(opts, "epochs")) c->steps = 0;
        if (c->cond && !c->resume && !cli_given(opts, "min-scale"))
            c->glow.coupling_min_scale = NF_GLOW_COND_MIN_SCALE_DEFAULT;
        if (!c->resume) c->argc = argc, c->argv = argv;
    }
    if (rc == CLI_OK) rc = train_run(c, NULL);
    free(saved_argv);
    free(saved_buf);
    return rc;
}
