/* nflow encode / nflow decode: data <-> latents through a model, batch by batch,
 * HDF5 in and out. */
#include "args.h"
#include "cli.h"
#include "datasrc.h"
#include "h5out.h"

#include <stdlib.h>
#include <string.h>

static const char encode_help[] =
    "NAME\n"
    "  nflow encode - map data to latents, z = f(x)\n\n"
    "SYNOPSIS\n"
    "  nflow encode --model FILE --data SPEC [--out FILE.h5[:/PATH]] [--limit N]\n"
    "               [--layout L] [--batch B] [--threads N] [--cond SPEC]\n\n"
    "DESCRIPTION\n"
    "  Writes z (N, D) float32, D = C*D*H*W, in the order of the data, and beside it\n"
    "  logdet (N) float64, the log-determinant of the Jacobian per sample. Integer data is\n"
    "  taken at its bin centres (no dequantisation noise), so decode(encode(x)) gives the\n"
    "  pre-processed x back. The latents are N(0, I) under the model. A conditional model\n"
    "  maps each x with its condition y (sample for sample from --cond): z = f(x; y).\n\n"
    "OPTIONS\n"
    "  --model FILE   model or checkpoint file (required)\n"
    "  --data SPEC    FILE.h5:/DATASET or toy:NAME (required)\n"
    "  --out SPEC     output FILE.h5 or FILE.h5:/PATH [latents.h5:/z]; logdet goes next to\n"
    "                 it as PATH_logdet ('/z_logdet' by default)\n"
    "  --limit N      only the first N samples [all]\n"
    "  --n N          toy data: samples drawn [10000]\n"
    "  --cond SPEC    conditional models: conditions FILE.h5:/DATASET of the same N (or\n"
    "                 /DATASET in --data's file)\n" CLI_LAYOUT_HELP
    "  --batch B      samples per pass [256]\n"
    "  --threads N    OpenMP/OpenBLAS threads [from the environment]\n\n" CLI_EXIT_CODES_HELP
    "\nEXAMPLE\n"
    "  nflow encode --model fmnist/model.h5 --data fmnist.h5:/test/x --out z.h5\n";

static const char decode_help[] =
    "NAME\n"
    "  nflow decode - map latents to data, x = f^-1(z)\n\n"
    "SYNOPSIS\n"
    "  nflow decode --model FILE --latents FILE.h5:/PATH [--out FILE.h5[:/PATH]]\n"
    "               [--data SPEC [--layout L]] [--limit N] [--batch B] [--threads N]\n"
    "               [--cond SPEC]\n\n"
    "DESCRIPTION\n"
    "  Reads latents (N, D) (as written by nflow encode, or any float dataset with D =\n"
    "  C*D*H*W values per sample) and writes x (N, C, H, W) float32 (N, C, D, H, W for\n"
    "  volumes) in the model's units, or, with --data naming the HDF5 dataset the model was\n"
    "  trained on, in the data's own units. A conditional model decodes each z with its\n"
    "  condition y (sample for sample from --cond): x = f^-1(z; y).\n\n"
    "OPTIONS\n"
    "  --model FILE      model or checkpoint file (required)\n"
    "  --latents SPEC    FILE.h5:/PATH of the latents (required)\n"
    "  --out SPEC        output FILE.h5 or FILE.h5:/PATH [decoded.h5:/x]\n"
    "  --data SPEC       map back to this dataset's units\n"
    "  --layout L        of --data: auto|nchw|nhwc|ndhw [auto] (see nflow encode --help)\n"
    "  --limit N         only the first N latents [all]\n"
    "  --cond SPEC       conditional models: conditions FILE.h5:/DATASET of the same N\n"
    "  --batch B         samples per pass [256]\n"
    "  --threads N       OpenMP/OpenBLAS threads [from the environment]\n\n" CLI_EXIT_CODES_HELP
    "\nEXAMPLE\n"
    "  nflow decode --model fmnist/model.h5 --latents z.h5:/z --out x.h5\n";

typedef struct stream_job {
    const char *cmd;
    nf_flow *f;
    cli_data *in;        /* data (encode) or latents (decode) */
    cli_data *units;     /* decode: dataset whose units to map back to, or NULL */
    long long count;
    int batch, encode;
    const char *out;
} stream_job;

static int stream(const stream_job *j) {
    nf_shape s = j->f->in;
    int D = (int)nf_shape_sample_count(s);
    int batch = j->batch < j->count ? j->batch : (int)j->count;
    nf_tensor x = {0}, z = {0}, y = {0};
    nf_shape ys = j->in->cond_shape;
    if (ys.n && nf_tensor_alloc(&y, batch, ys.c, ys.d, ys.h, ys.w) != NF_OK)
        return cli_error(CLI_RUNTIME, j->cmd, "out of memory for a batch of %d", batch);
    nf_tensor *cond = ys.n ? &y : NULL;
    double *logdet = malloc(sizeof(double) * (size_t)batch);
    if (!logdet || nf_tensor_alloc(&x, batch, s.c, s.d, s.h, s.w) != NF_OK ||
        nf_tensor_alloc(&z, batch, D, 1, 1, 1) != NF_OK) {
        free(logdet);
        nf_tensor_free(&x);
        return cli_error(CLI_RUNTIME, j->cmd, "out of memory for a batch of %d", batch);
    }
    char file[4096], ldpath[4200];
    const char *path;
    h5out_split(j->out, file, sizeof file, &path, j->encode ? "/z" : "/x");
    cli_h5out out = {0};
    long long dims[5] = {j->count, D};
    int rc = h5out_open(&out, j->cmd, file);
    if (rc == CLI_OK && j->encode) {
        snprintf(ldpath, sizeof ldpath, "%s_logdet", path);
        rc = h5out_array(&out, 0, path, 2, dims, 0);
        if (rc == CLI_OK) rc = h5out_array(&out, 1, ldpath, 1, dims, 1);
    } else if (rc == CLI_OK) {
        int rank = h5out_sample_dims(s, j->count, dims);
        rc = h5out_array(&out, 0, path, rank, dims, 0);
        if (rc == CLI_OK) rc = h5out_attr(&out, 0, "units", j->units ? "data" : "model");
    }
    for (long long done = 0; rc == CLI_OK && done < j->count; done += batch) {
        int n = j->count - done < batch ? (int)(j->count - done) : batch;
        x.n = z.n = y.n = n;
        nf_status st = data_read(j->in, done, j->encode ? &x : &z, cond, NULL);
        if (st != NF_OK) {
            rc = cli_nf_error(st, j->cmd, "reading");
            break;
        }
        if (j->encode) st = nf_flow_forward(j->f, &x, cond, &z, logdet);
        else st = nf_flow_inverse(j->f, &z, cond, &x);
        if (st == NF_OK && j->units) st = nf_dataset_denormalize(j->units->ds, &x);
        if (st != NF_OK) {
            rc = cli_nf_error(st, j->cmd, j->encode ? "encoding" : "decoding");
            break;
        }
        rc = h5out_append(&out, 0, n, j->encode ? z.data : x.data);
        if (rc == CLI_OK && j->encode) rc = h5out_append(&out, 1, n, logdet);
    }
    int rc2 = h5out_close(&out, rc == CLI_OK);
    if (rc == CLI_OK) rc = rc2;
    if (rc == CLI_OK)
        printf("wrote %lld %s to %s:%s%s%s\n", j->count, j->encode ? "latents" : "samples", file, path,
               j->encode ? " and " : "", j->encode ? ldpath : "");
    free(logdet);
    nf_tensor_free(&x);
    nf_tensor_free(&z);
    nf_tensor_free(&y);
    return rc;
}

static int run(int argc, char **argv, int encode) {
    const char *cmd = encode ? "encode" : "decode";
    const char *model = NULL, *spec = NULL, *out = encode ? "latents.h5" : "decoded.h5", *units_spec = NULL;
    const char *cond = NULL;
    long limit = 0, n = 10000;
    int batch = 256, threads = 0, layout = NF_LAYOUT_AUTO;
    cli_opt opts[] = {
        {"model", OPT_STR, &model},
        {encode ? "data" : "latents", OPT_STR, &spec},
        {"out", OPT_STR, &out},
        {encode ? "n" : "data", encode ? OPT_LONG : OPT_STR, encode ? (void *)&n : (void *)&units_spec, 1, 1 << 30},
        {"limit", OPT_LONG, &limit, 1, 1e15},
        {"batch", OPT_INT, &batch, 1, 1 << 20},
        {"threads", OPT_INT, &threads, 1, 1024},
        {"layout", OPT_CHOICE, &layout, 0, 0, CLI_LAYOUT_CHOICES},
        {"cond", OPT_STR, &cond},
        OPT_END,
    };
    int rc = cli_parse(cmd, argc, argv, opts, encode ? encode_help : decode_help, NULL, 0, NULL);
    if (rc != CLI_OK) return rc;
    if (!model || !spec)
        return cli_error(CLI_USAGE, cmd, "--model and --%s are required (see --help)", encode ? "data" : "latents");
    if (!encode && data_spec_is_toy(spec)) return cli_error(CLI_USAGE, cmd, "--latents must be FILE.h5:/PATH");
    if ((rc = cli_set_threads(cmd, threads)) != CLI_OK) return rc;
    nf_flow *f = NULL;
    if ((rc = cli_load_model(cmd, model, &f)) != CLI_OK) return rc;
    cli_data in, units;
    memset(&in, 0, sizeof in);
    memset(&units, 0, sizeof units);
    /* file order, no noise; latents are used as stored */
    cli_data_options o = {.batch = batch, .seed = 12345, .toy_size = n,
                          .normalize = encode ? NF_NORM_AUTO : NF_NORM_NONE,
                          .layout = encode ? (nf_layout)layout : NF_LAYOUT_NCHW, .cond = cond};
    if (cond && data_spec_is_toy(spec)) rc = cli_error(CLI_USAGE, cmd, "--cond needs HDF5 data, not %s", spec);
    if (rc == CLI_OK) rc = data_open(&in, cmd, spec, &o);
    if (rc == CLI_OK) rc = cli_check_cond(cmd, f, in.cond_shape, cond);
    nf_shape want = f->in;
    if (rc == CLI_OK && encode) rc = cli_check_shape(cmd, f, in.shape, spec);
    if (rc == CLI_OK && !encode && (long long)in.shape.c * in.shape.d * in.shape.h * in.shape.w !=
                                       (long long)nf_shape_sample_count(want))
        rc = cli_error(CLI_DATA, cmd, "%s has %d values per sample but the model's latents have %zu", spec,
                       in.shape.c * in.shape.d * in.shape.h * in.shape.w, nf_shape_sample_count(want));
    if (rc == CLI_OK && units_spec) {
        o.normalize = NF_NORM_AUTO;
        o.cond = NULL;
        o.layout = (nf_layout)layout;
        rc = data_open(&units, cmd, units_spec, &o);
        if (rc == CLI_OK && units.toy) data_close(&units); /* toy data has no units to map to */
        if (rc == CLI_OK && units.ds) rc = cli_check_shape(cmd, f, units.shape, units_spec);
    }
    if (rc == CLI_OK) {
        stream_job j = {cmd, f, &in, units.ds ? &units : NULL, limit > 0 && limit < in.size ? limit : in.size,
                        batch, encode, out};
        rc = stream(&j);
    }
    data_close(&in);
    data_close(&units);
    nf_flow_destroy(f);
    return rc;
}

int cmd_encode(int argc, char **argv) { return run(argc, argv, 1); }
int cmd_decode(int argc, char **argv) { return run(argc, argv, 0); }
