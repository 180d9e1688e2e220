/* The group "training_data" of model and checkpoint files: the nf_data_identity of the
 * data the flow was trained on (datasets/MODEL_FORMAT.md), written only when known. */
#include "io/model_file.h"

#include <string.h>

#define GROUP "training_data"

nf_status model_data_identity_write(hid_t file, const nf_flow *f) {
    const nf_data_identity *id = f->data;
    if (!id) return NF_OK;
    nf_status st = NF_OK;
    hid_t g = H5I_INVALID_HID;
    NF_H5_TRY(model_group_create(file, GROUP, &g));
    NF_H5_TRY(model_attr_put_str(g, "source", id->source));
    NF_H5_TRY(model_attr_put_i64v(g, "shape", id->dims, id->rank));
    NF_H5_TRY(model_attr_put_str(g, "dtype", id->dtype));
    NF_H5_TRY(model_attr_put_i64(g, "crc32_samples", id->samples));
    NF_H5_TRY(model_attr_put_i64(g, "crc32", (long long)id->crc32));
cleanup:
    NF_H5_CLOSE(H5Gclose, g);
    return st;
}

/* The rank of the attribute "shape" (a 1-D array), -1 when it cannot be read. */
static int shape_rank(hid_t g) {
    hid_t a = H5Aopen(g, "shape", H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t sp = H5Aget_space(a);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(a);
    return n < 1 || n > 5 ? -1 : (int)n;
}

nf_status model_data_identity_read(hid_t file, nf_flow *f) {
    htri_t has = H5Lexists(file, GROUP, H5P_DEFAULT);
    if (has < 0) return nf_h5_fail(NF_ERR_FORMAT, "cannot tell whether the group '" GROUP "' exists");
    if (!has) return NF_OK; /* written before nflow recorded its data, or not trained by nflow */
    nf_status st = NF_OK;
    hid_t g = H5I_INVALID_HID;
    nf_data_identity id;
    long long samples, crc;
    memset(&id, 0, sizeof id);
    NF_H5_TRY(model_group_open(file, GROUP, "model", &g));
    NF_H5_TRY(model_attr_get_str(g, "source", id.source, sizeof id.source));
    if ((id.rank = shape_rank(g)) < 0) {
        st = nf_fail(NF_ERR_FORMAT, GROUP ": attribute 'shape' must hold 1 to 5 integers");
        goto cleanup;
    }
    NF_H5_TRY(model_attr_get_i64v(g, "shape", id.dims, id.rank));
    NF_H5_TRY(model_attr_get_str(g, "dtype", id.dtype, sizeof id.dtype));
    NF_H5_TRY(model_attr_get_i64(g, "crc32_samples", &samples));
    NF_H5_TRY(model_attr_get_i64(g, "crc32", &crc));
    if (samples < 0 || crc < 0 || crc > 0xFFFFFFFFll) {
        st = nf_fail(NF_ERR_FORMAT, GROUP ": impossible crc32_samples %lld or crc32 %lld", samples, crc);
        goto cleanup;
    }
    id.samples = samples, id.crc32 = (uint32_t)crc;
    NF_H5_TRY(nf_flow_set_data_identity(f, &id));
cleanup:
    NF_H5_CLOSE(H5Gclose, g);
    return st;
}
