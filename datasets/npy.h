/* The header of a NumPy .npy file (format versions 1, 2 and 3; numpy.lib.format):
 * magic "\x93NUMPY", version, header length, then a Python dict literal with 'descr',
 * 'fortran_order' and 'shape'. Internal to nflow_datasets. */
#ifndef NFD_NPY_H
#define NFD_NPY_H

#include <nflow/h5.h>

#include <stdio.h>

typedef struct nfd_npy {
    char kind;           /* 'u', 'i', 'f' or 'b' (bool) */
    int size;            /* bytes per element */
    int big_endian;      /* byte order of the data ('|' and one-byte types: 0) */
    int rank;            /* 1 to 5 */
    hsize_t dims[5];
    long long data_offset; /* where the C-order data starts */
    char descr[16];      /* as written, for messages */
} nfd_npy;

/* Reads and checks the header of f (named name in messages), leaving f at the data.
 * NF_ERR_FORMAT for a file that is not .npy, a Fortran-order array, an element type
 * other than bool, integers and 2-, 4- or 8-byte floats, a rank outside 1..5, or fewer
 * data bytes than the shape needs. */
nf_status nfd_npy_read_header(FILE *f, const char *name, nfd_npy *h);

/* Bytes per sample (all axes but the first) and samples (the first axis). */
size_t nfd_npy_sample_bytes(const nfd_npy *h);

/* HDF5 types for the elements: as stored in the file (mem) and as nflow writes them
 * (little-endian, bool as uint8). The caller closes both. */
nf_status nfd_npy_types(const nfd_npy *h, hid_t *mem, hid_t *file);

#endif
