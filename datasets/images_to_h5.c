/* A folder of PNG and JPEG pictures -> /x (N, C, H, W) uint8, /y labels (one per
 * sub-folder), /names, /class_names; one picture in memory at a time and one chunk of
 * output, so the folder may be larger than memory. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup */
#endif
#include "h5_writer.h"
#include "image.h"
#include "nflow_datasets.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct conv {
    const nf_images_options *o;
    nf_images_result *r;
    char **classes;          /* (nclasses) sub-folders of dir, sorted */
    int nclasses;
    int top_label;           /* label of pictures directly in dir: nclasses ("."), used if any */
    int H, W, C;
    hid_t file;
    nfd_array x, y, names;
    int open;                /* the arrays exist (size known) */
    unsigned char *xbuf;     /* (batch, C, H, W) */
    int *ybuf;               /* (batch) */
    char **nbuf;             /* (batch) owned copies of the relative paths */
    int batch, pending;
    hid_t str;               /* variable-length UTF-8 string type */
} conv;

static int has_image_extension(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/')) return 0;
    char ext[8] = "";
    for (int i = 0; i < 7 && dot[i + 1]; i++) ext[i] = (char)tolower((unsigned char)dot[i + 1]);
    return !strcmp(ext, "png") || !strcmp(ext, "jpg") || !strcmp(ext, "jpeg") || !strcmp(ext, "jpe");
}

static int label_of(const conv *c, const char *rel) {
    const char *slash = strchr(rel, '/');
    if (!slash) return c->top_label;
    size_t n = (size_t)(slash - rel);
    for (int k = 0; k < c->nclasses; k++)
        if (strlen(c->classes[k]) == n && !strncmp(c->classes[k], rel, n)) return k;
    return c->top_label; /* not reached: every sub-folder is a class */
}

static nf_status flush(conv *c) {
    if (!c->pending) return NF_OK;
    NF_TRY(nfd_array_append(&c->x, c->pending, c->xbuf));
    NF_TRY(nfd_array_append(&c->y, c->pending, c->ybuf));
    NF_TRY(nfd_array_append(&c->names, c->pending, c->nbuf));
    for (int i = 0; i < c->pending; i++) free(c->nbuf[i]);
    c->pending = 0;
    return NF_OK;
}

/* Creates the arrays once the picture size is known. */
static nf_status open_arrays(conv *c) {
    nf_status st = NF_OK;
    hsize_t dx[4] = {0, (hsize_t)c->C, (hsize_t)c->H, (hsize_t)c->W}, d1[1] = {0};
    NF_H5_TRY(nfd_array_create_growing(&c->x, c->file, "/x", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 4, dx));
    NF_H5_TRY(nfd_array_create_growing(&c->y, c->file, "/y", H5T_STD_I32LE, H5T_NATIVE_INT, 1, d1));
    NF_H5_TRY(nfd_array_create_growing(&c->names, c->file, "/names", c->str, c->str, 1, d1));
    c->open = 1;
    NF_H5_TRY(nf_h5_write_string_attr(c->x.dset, "nflow_layout", "NCHW"));
    c->batch = (int)c->x.chunk_n;
    c->xbuf = nf_alloc((size_t)c->batch * (size_t)c->C * (size_t)c->H * (size_t)c->W);
    c->ybuf = nf_alloc(sizeof(int) * (size_t)c->batch);
    c->nbuf = nf_alloc(sizeof(char *) * (size_t)c->batch);
    if (!c->xbuf || !c->ybuf || !c->nbuf) st = nf_fail(NF_ERR_NOMEM, "out of memory for %d pictures", c->batch);
cleanup:
    return st;
}

static void skip(conv *c, const char *path, const char *why) {
    c->r->skipped++;
    if (c->o->on_skip) c->o->on_skip(c->o->ctx, path, why);
}

/* One file of the walk: decoded, fitted and queued, or skipped (bad picture) or ignored
 * (not a picture). Only output failures stop the walk. */
static nf_status on_file(void *ctx, const char *path, const char *rel) {
    conv *c = ctx;
    FILE *f = fopen(path, "rb");
    if (!f) {
        skip(c, path, strerror(errno));
        return NF_OK;
    }
    nfd_image_kind kind = nfd_image_sniff(f);
    nfd_image im = {0};
    nf_status st = kind == NFD_PNG ? nfd_png_read(f, &im) : kind == NFD_JPEG ? nfd_jpeg_read(f, &im) : NF_ERR_FORMAT;
    fclose(f);
    if (kind == NFD_NOT_IMAGE) {
        if (has_image_extension(path)) skip(c, path, "not a PNG or JPEG file");
        else c->r->ignored++;
        return NF_OK;
    }
    if (st == NF_OK && !c->open) {
        if (!c->H) {
            c->H = im.h, c->W = im.w;
            snprintf(c->r->size_from, sizeof c->r->size_from, "%s", rel);
        }
        st = open_arrays(c);
        if (st != NF_OK) {
            nfd_image_free(&im);
            return st;
        }
    }
    if (st == NF_OK) {
        size_t per = (size_t)c->C * (size_t)c->H * (size_t)c->W;
        st = nfd_image_fit(&im, c->H, c->W, c->C, c->o->crop ? NFD_FIT_CROP : NFD_FIT_RESIZE,
                           c->xbuf + (size_t)c->pending * per);
    }
    nfd_image_free(&im);
    if (st != NF_OK) {
        skip(c, path, nf_last_error());
        return NF_OK;
    }
    if (!(c->nbuf[c->pending] = strdup(rel))) return nf_fail(NF_ERR_NOMEM, "out of memory");
    c->ybuf[c->pending++] = label_of(c, rel);
    if (!strchr(rel, '/')) c->r->classes = c->nclasses + 1;
    c->r->written++;
    return c->pending == c->batch ? flush(c) : NF_OK;
}

static nf_status write_classes(conv *c, const char *dir) {
    nf_status st = NF_OK;
    nfd_array a = {.dset = H5I_INVALID_HID};
    hsize_t d1[1] = {(hsize_t)c->r->classes};
    const char **names = nf_alloc(sizeof(char *) * (size_t)c->r->classes + 1);
    if (!names) return nf_fail(NF_ERR_NOMEM, "out of memory");
    for (int k = 0; k < c->nclasses; k++) names[k] = c->classes[k];
    if (c->r->classes > c->nclasses) names[c->nclasses] = ".";
    if (c->r->classes > 0) {
        NF_H5_TRY(nfd_array_create(&a, c->file, "/class_names", c->str, c->str, 1, d1));
        NF_H5_TRY(nfd_array_append(&a, c->r->classes, names));
    }
    NF_H5_TRY(nf_h5_write_string_attr(c->file, "source", dir));
    NF_H5_TRY(nf_h5_write_string_attr(c->file, "fit", c->o->crop ? "centre crop" : "scale to cover, centre crop"));
cleanup:
    st = nfd_array_close(&a, st);
    nf_free(names);
    return st;
}

static nf_status check(const nf_images_options *o) {
    NF_CHECK_NULL(o);
    NF_CHECK_NULL(o->dir);
    NF_CHECK_NULL(o->output);
    if (o->height < 0 || o->width < 0 || (o->height == 0) != (o->width == 0) || o->height > 65536 || o->width > 65536)
        return nf_fail(NF_ERR_ARG, "picture size %dx%d: give both, each in 1..65536, or neither", o->width, o->height);
    return NF_OK;
}

nf_status nf_convert_images(const nf_images_options *o, nf_images_result *r) {
    NF_TRY(check(o));
    memset(r, 0, sizeof *r);
    conv c = {.o = o, .r = r, .H = o->height, .W = o->width, .C = o->gray ? 1 : 3};
    c.x.dset = c.y.dset = c.names.dset = c.str = H5I_INVALID_HID;
    NF_TRY(nfd_list_subdirs(o->dir, &c.classes, &c.nclasses));
    r->classes = c.nclasses;
    c.top_label = c.nclasses;
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nf_status st;
    nfd_out out;
    NF_H5_TRY(nfd_out_create(&out, o->output));
    c.file = out.file;
    NF_H5_CHECK(c.str = H5Tcopy(H5T_C_S1), NF_ERR_IO, "string type");
    NF_H5_CHECK(H5Tset_size(c.str, H5T_VARIABLE), NF_ERR_IO, "string type");
    NF_H5_CHECK(H5Tset_cset(c.str, H5T_CSET_UTF8), NF_ERR_IO, "string type");
    NF_H5_TRY(nfd_walk(o->dir, on_file, &c));
    NF_H5_TRY(flush(&c));
    if (!r->written) {
        st = nf_fail(NF_ERR_FORMAT, "no readable PNG or JPEG pictures under '%s' (%lld bad, %lld other files)", o->dir,
                     r->skipped, r->ignored);
        goto cleanup;
    }
    NF_H5_TRY(write_classes(&c, o->dir));
    r->height = c.H, r->width = c.W, r->channels = c.C;
cleanup:
    for (int i = 0; i < c.pending; i++) free(c.nbuf[i]);
    st = nfd_array_close(&c.x, st);
    st = nfd_array_close(&c.y, st);
    st = nfd_array_close(&c.names, st);
    NF_H5_CLOSE(H5Tclose, c.str);
    st = nfd_out_finish(&out, st);
    nf_h5_quiet_end(&q);
    nf_free(c.xbuf);
    nf_free(c.ybuf);
    nf_free(c.nbuf);
    nf_free(c.classes);
    return st;
}
