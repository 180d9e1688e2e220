/* What the libFuzzer harnesses share: the input as a file on a tmpfs (for the readers
 * that take a path), and HDF5's set-up. Each harness is one LLVMFuzzerTestOneInput. */
#ifndef NFLOW_FUZZ_COMMON_H
#define NFLOW_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* A path in a per-process scratch directory (on /dev/shm when there is one). */
const char *fuzz_path(const char *name);
/* Writes data to fuzz_path(name) and returns that path (NULL if it cannot). */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);

/* HDF5's free lists keep what they free, without limit: every input then reuses the
 * blocks of the one before (an HDF5 file open allocates over half a megabyte of cache
 * tables, which ASan would map and zero afresh each time), and an input allocates as
 * much as it frees, so libFuzzer's leak check (run when the two differ) stays for real
 * leaks. Called from LLVMFuzzerInitialize. */
void fuzz_hdf5_setup(void);

#endif
