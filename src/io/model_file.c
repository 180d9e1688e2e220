/* Model files: the flow's kind and hyper-parameters as root attributes, then one group
 * per layer ("layers/NNN_<type>") with one float32 dataset per parameter block. Loading
 * rebuilds the flow from the attributes alone and reads every block into it after
 * checking its shape against what the rebuilt layer expects. */
#include "io/model_file.h"

#include "io/atomic_file.h"
#include "io/h5_image.h"
#include "io/load_image.h"
#include "io/model_kinds.h"
#include "io/model_stamp.h"

#include <stdio.h>
#include <string.h>

#define MAX_BLOCKS 16 /* per layer, as nf_params_bind */

/* ---------------------------------------------------------------- layer blocks */

/* The layer's parameter blocks, checked: rank 1..4, names usable as HDF5 names, each
 * inside the layer's view and together covering it exactly once, so that saving the
 * blocks saves every parameter. */
static nf_status layer_blocks(const nf_layer *l, int index, nf_param_block *b, int *nb) {
    *nb = l->ops->param_blocks ? l->ops->param_blocks(l, b, MAX_BLOCKS) : 0;
    if (*nb < 0 || *nb > MAX_BLOCKS)
        return nf_fail(NF_ERR_STATE, "layer %d (%s) reports %d parameter blocks (at most %d)", index, l->ops->name, *nb,
                       MAX_BLOCKS);
    size_t total = 0;
    for (int i = 0; i < *nb; i++) {
        if (!b[i].name || !b[i].name[0] || strchr(b[i].name, '/') || b[i].rank < 1 || b[i].rank > NF_PARAM_MAX_RANK)
            return nf_fail(NF_ERR_STATE, "layer %d (%s) block %d: bad name or rank %d", index, l->ops->name, i,
                           b[i].rank);
        size_t cnt = 1;
        for (int r = 0; r < b[i].rank; r++) cnt *= (size_t)(b[i].dims[r] < 0 ? 0 : b[i].dims[r]);
        if (b[i].offset + cnt > l->nparams)
            return nf_fail(NF_ERR_STATE, "layer %d (%s) block '%s' runs past the layer's %zu parameters", index,
                           l->ops->name, b[i].name, l->nparams);
        for (int j = 0; j < i; j++) {
            size_t cj = 1;
            for (int r = 0; r < b[j].rank; r++) cj *= (size_t)b[j].dims[r];
            if (b[i].offset < b[j].offset + cj && b[j].offset < b[i].offset + cnt)
                return nf_fail(NF_ERR_STATE, "layer %d (%s) blocks '%s' and '%s' overlap", index, l->ops->name,
                               b[j].name, b[i].name);
        }
        total += cnt;
    }
    if (total != l->nparams)
        return nf_fail(NF_ERR_STATE, "layer %d (%s): parameter blocks cover %zu of its %zu parameters", index,
                       l->ops->name, total, l->nparams);
    return NF_OK;
}

static void block_dims(const nf_param_block *b, hsize_t *dims) {
    for (int r = 0; r < b->rank; r++) dims[r] = (hsize_t)b->dims[r];
}

/* "003_conv1x1_lu": zero-padded to the same width for every layer, so that sorting
 * the names sorts the layers. */
static void layer_group_name(char *buf, size_t size, int index, int nlayers, const nf_layer *l) {
    int width = 3;
    for (int n = nlayers - 1; n >= 1000 && width < 10; n /= 10) width++;
    snprintf(buf, size, "%0*d_%s", width, index, l->ops->name);
}

static nf_status put_shape(hid_t obj, const char *name, nf_shape s) {
    long long v[4] = {s.c, s.d, s.h, s.w};
    return model_attr_put_i64v(obj, name, v, 4);
}

/* ---------------------------------------------------------------- write */

static nf_status write_layer(hid_t layers, const nf_flow *f, int i, size_t offset) {
    const nf_layer *l = f->layers[i];
    nf_param_block b[MAX_BLOCKS];
    int nb;
    NF_TRY(layer_blocks(l, i, b, &nb));
    if (l->nparams && l->param != f->params.value + offset)
        return nf_fail(NF_ERR_STATE, "layer %d (%s): parameters are not laid out layer after layer", i, l->ops->name);
    nf_status st = NF_OK;
    hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID;
    char name[128];
    layer_group_name(name, sizeof name, i, f->nlayers, l);
    nf_shape out;
    NF_H5_TRY(nf_layer_out_shape(l, l->in, &out));
    NF_H5_TRY(model_group_create(layers, name, &g));
    NF_H5_TRY(model_attr_put_i64(g, "index", i));
    NF_H5_TRY(model_attr_put_str(g, "type", l->ops->name));
    NF_H5_TRY(model_attr_put_i64(g, "initialized", l->initialized ? 1 : 0));
    NF_H5_TRY(put_shape(g, "in_shape", l->in));
    NF_H5_TRY(put_shape(g, "out_shape", out));
    NF_H5_TRY(model_attr_put_u64(g, "param_offset", offset));
    NF_H5_TRY(model_attr_put_u64(g, "nparams", l->nparams));
    for (int k = 0; k < nb; k++) {
        hsize_t dims[NF_PARAM_MAX_RANK];
        block_dims(&b[k], dims);
        NF_H5_TRY(model_dset_write(g, b[k].name, b[k].rank, dims, l->param + b[k].offset, &d));
        NF_H5_TRY(model_attr_put_i64(d, "frozen", b[k].frozen ? 1 : 0));
        NF_H5_TRY(model_attr_put_u64(d, "offset", offset + b[k].offset));
        NF_H5_CLOSE(H5Dclose, d);
    }
cleanup:
    NF_H5_CLOSE(H5Dclose, d);
    NF_H5_CLOSE(H5Gclose, g);
    return st;
}

nf_status model_write(hid_t file, const nf_flow *f, const char *format) {
    const nf_model_kind *kind = model_kind_find(f->ops->name);
    if (!kind) return model_kind_unknown(f->ops->name);
    nf_status st = NF_OK;
    hid_t layers = H5I_INVALID_HID;
    char version[32];
    snprintf(version, sizeof version, "%d.%d", NFLOW_VERSION_MAJOR, NFLOW_VERSION_MINOR);
    NF_H5_TRY(model_attr_put_str(file, "format", format));
    NF_H5_TRY(model_attr_put_i64(file, "format_version", NF_MODEL_FORMAT_VERSION));
    NF_H5_TRY(model_attr_put_str(file, "nflow_version", version));
    NF_H5_TRY(model_attr_put_str(file, "flow_kind", kind->name));
    NF_H5_TRY(put_shape(file, "input_shape", f->in));
    NF_H5_TRY(model_attr_put_i64(file, "nlayers", f->nlayers));
    NF_H5_TRY(model_attr_put_u64(file, "nparams", f->params.count));
    nf_model_attrs attrs = {file, "model"};
    NF_H5_TRY(kind->save_arch(f, &attrs));
    NF_H5_TRY(model_group_create(file, "layers", &layers));
    size_t offset = 0;
    for (int i = 0; i < f->nlayers; i++) {
        NF_H5_TRY(write_layer(layers, f, i, offset));
        offset += f->layers[i]->nparams;
    }
    if (offset != f->params.count) {
        st = nf_fail(NF_ERR_STATE, "the layers hold %zu parameters, the flow %zu", offset, f->params.count);
        goto cleanup;
    }
    NF_H5_TRY(model_data_identity_write(file, f));
cleanup:
    NF_H5_CLOSE(H5Gclose, layers);
    return st;
}

/* Builds the whole file in memory (h5_image.h) and stamps it: no byte reaches the disk
 * here, so a full disk cannot fail an HDF5 flush or close. name only labels the file
 * (the temporary file's name: unique, as HDF5 wants for files open at once). */
static nf_status build_image(const char *name, model_writer write, const void *arg, h5_image *img) {
    nf_status st = NF_OK;
    hid_t fcpl = H5I_INVALID_HID, fapl = H5I_INVALID_HID, file = H5I_INVALID_HID;
    memset(img, 0, sizeof *img);
    NF_H5_CHECK(fcpl = model_h5_create_fcpl(), NF_ERR_IO, "cannot set up file creation");
    NF_H5_CHECK(fapl = model_h5_fapl(), NF_ERR_IO, "cannot set up file access");
    NF_H5_TRY(h5_image_fapl(fapl, img));
    NF_H5_CHECK(file = H5Fcreate(name, H5F_ACC_TRUNC, fcpl, fapl), NF_ERR_IO, "cannot create the file in memory");
    NF_H5_TRY(write(file, arg));
    herr_t closed = H5Fclose(file);
    file = H5I_INVALID_HID;
    NF_H5_CHECK(closed, NF_ERR_IO, "cannot close the file in memory");
    NF_H5_TRY(h5_image_finish(img, MODEL_STAMP_BYTES));
    model_stamp_fill(img->data, img->size);
cleanup:
    NF_H5_CLOSE(H5Fclose, file);
    NF_H5_CLOSE(H5Pclose, fapl);
    NF_H5_CLOSE(H5Pclose, fcpl);
    if (st != NF_OK) h5_image_free(img);
    return st;
}

nf_status model_file_write(const char *path, model_writer write, const void *arg) {
    atomic_file af;
    NF_TRY(atomic_file_begin(&af, path));
    h5_image img;
    nf_status st = build_image(af.tmp, write, arg, &img);
    if (st == NF_OK) st = atomic_file_write(&af, img.data, img.size);
    if (st == NF_OK) st = atomic_file_commit(&af); /* removes the temporary file on failure */
    else atomic_file_abort(&af);
    h5_image_free(&img);
    return st;
}

/* ---------------------------------------------------------------- read */

static nf_status read_layer(hid_t layers, nf_flow *f, int i) {
    nf_layer *l = f->layers[i];
    nf_param_block b[MAX_BLOCKS];
    int nb;
    NF_TRY(layer_blocks(l, i, b, &nb));
    nf_status st = NF_OK;
    hid_t g = H5I_INVALID_HID;
    char name[128], what[160];
    layer_group_name(name, sizeof name, i, f->nlayers, l);
    snprintf(what, sizeof what, "layer %d (%s)", i, l->ops->name);
    NF_H5_TRY(model_group_open(layers, name, what, &g));
    long long init;
    NF_H5_TRY(model_attr_get_i64(g, "initialized", &init));
    if (init != 0 && init != 1) {
        st = nf_fail(NF_ERR_FORMAT, "%s: attribute 'initialized' = %lld, expected 0 or 1", what, init);
        goto cleanup;
    }
    for (int k = 0; k < nb; k++) {
        hsize_t dims[NF_PARAM_MAX_RANK];
        block_dims(&b[k], dims);
        NF_H5_TRY(model_dset_read(g, b[k].name, b[k].rank, dims, l->param + b[k].offset, what));
    }
    l->initialized = (int)init;
cleanup:
    NF_H5_CLOSE(H5Gclose, g);
    return st;
}

/* The file's format and version, and the kind that can rebuild it. */
static nf_status read_header(hid_t file, char *format, size_t size, const nf_model_kind **kind) {
    char kname[64];
    long long version;
    int has = model_attr_exists(file, "format");
    if (has <= 0)
        return has < 0 ? NF_ERR_FORMAT : nf_fail(NF_ERR_FORMAT, "not an nflow model file (no root attribute 'format')");
    NF_TRY(model_attr_get_str(file, "format", format, size));
    if (strcmp(format, MODEL_FORMAT_MODEL) && strcmp(format, MODEL_FORMAT_CHECKPOINT))
        return nf_fail(NF_ERR_FORMAT, "not an nflow model file (format '%s', expected '%s' or '%s')", format,
                       MODEL_FORMAT_MODEL, MODEL_FORMAT_CHECKPOINT);
    NF_TRY(model_attr_get_i64(file, "format_version", &version));
    if (version != NF_MODEL_FORMAT_VERSION)
        return nf_fail(NF_ERR_FORMAT, "format_version %lld; this nflow reads version %d", version,
                       NF_MODEL_FORMAT_VERSION);
    NF_TRY(model_attr_get_str(file, "flow_kind", kname, sizeof kname));
    *kind = model_kind_find(kname);
    if (!*kind) return model_kind_unknown(kname);
    return NF_OK;
}

/* The rebuilt flow must agree with the file's own summary of it: the input shape and
 * layer count before the layers are read, the parameter count after (a block-level
 * shape message says more than a total). */
static nf_status check_structure(hid_t file, const nf_flow *f) {
    long long shape[4], nlayers;
    NF_TRY(model_attr_get_i64v(file, "input_shape", shape, 4));
    NF_TRY(model_attr_get_i64(file, "nlayers", &nlayers));
    if (shape[0] != f->in.c || shape[1] != f->in.d || shape[2] != f->in.h || shape[3] != f->in.w)
        return nf_fail(NF_ERR_FORMAT, "input_shape (%lld, %lld, %lld, %lld) disagrees with the architecture's "
                       "(%d, %d, %d, %d)", shape[0], shape[1], shape[2], shape[3], f->in.c, f->in.d, f->in.h, f->in.w);
    if (nlayers != f->nlayers)
        return nf_fail(NF_ERR_FORMAT, "the file holds %lld layers, the architecture in its attributes gives %d",
                       nlayers, f->nlayers);
    return NF_OK;
}

static nf_status check_count(hid_t file, const nf_flow *f) {
    uint64_t nparams;
    NF_TRY(model_attr_get_u64(file, "nparams", &nparams));
    if (nparams != f->params.count)
        return nf_fail(NF_ERR_FORMAT, "the file holds %llu parameters, the architecture in its attributes gives %zu",
                       (unsigned long long)nparams, f->params.count);
    return NF_OK;
}

nf_status model_read(hid_t file, nf_flow **out, char *format, size_t size) {
    *out = NULL;
    const nf_model_kind *kind;
    NF_TRY(read_header(file, format, size, &kind));
    nf_flow *f = NULL;
    nf_model_attrs attrs = {file, "model"};
    nf_status st = kind->create(&f, &attrs);
    if (st != NF_OK) {
        nf_flow_destroy(f);
        if (st == NF_ERR_NOMEM || st == NF_ERR_FORMAT) return st;
        char why[512];
        snprintf(why, sizeof why, "%s", nf_last_error());
        return nf_fail(NF_ERR_FORMAT, "the %s architecture in the file is invalid: %s", kind->name, why);
    }
    hid_t layers = H5I_INVALID_HID;
    NF_H5_TRY(check_structure(file, f));
    NF_H5_TRY(model_group_open(file, "layers", "model", &layers));
    for (int i = 0; i < f->nlayers; i++) NF_H5_TRY(read_layer(layers, f, i));
    NF_H5_TRY(check_count(file, f));
    NF_H5_TRY(model_data_identity_read(file, f));
cleanup:
    NF_H5_CLOSE(H5Gclose, layers);
    if (st != NF_OK) nf_flow_destroy(f);
    else *out = f;
    return st;
}

/* ---------------------------------------------------------------- public */

static nf_status write_model(hid_t file, const void *f) { return model_write(file, f, MODEL_FORMAT_MODEL); }

nf_status nf_model_save(const nf_flow *f, const char *path) {
    if (!f || !f->ops || !path) return nf_fail(NF_ERR_ARG, "nf_model_save: flow or path is NULL");
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nf_status st = model_file_write(path, write_model, f);
    nf_h5_quiet_end(&q);
    return st == NF_OK ? st : model_h5_prefix(st, "nf_model_save", path);
}

static nf_status model_load(nf_flow **out, const h5_input *src) {
    *out = NULL;
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    hid_t file;
    char format[64];
    nf_status st = model_h5_open(src, &file);
    if (st == NF_OK) st = model_read(file, out, format, sizeof format);
    model_h5_close(file);
    nf_h5_quiet_end(&q);
    return st == NF_OK ? st : model_h5_prefix(st, "nf_model_load", src->path);
}

nf_status nf_model_load(nf_flow **out, const char *path) {
    if (!out || !path) return nf_fail(NF_ERR_ARG, "nf_model_load: out or path is NULL");
    return model_load(out, &(h5_input){path, NULL, 0});
}

nf_status nf_model_load_image(nf_flow **out, const void *data, size_t size) {
    if (!out || !data) return nf_fail(NF_ERR_ARG, "nf_model_load_image: out or data is NULL");
    return model_load(out, &(h5_input){NF_IMAGE_NAME, data, size});
}
