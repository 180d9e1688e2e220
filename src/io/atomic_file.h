/* Crash-safe replacement of a file: write a temporary file in the same directory,
 * make it durable, rename it over the target, make the rename durable. At every
 * instant the target is either the complete old file or the complete new one. */
#ifndef NF_ATOMIC_FILE_H
#define NF_ATOMIC_FILE_H

#include "nf_internal.h"

/* The temporary file's name: "<path>.tmp-<pid>-<counter>-<nonce>", unique per process,
 * thread and host. */
typedef struct atomic_file {
    const char *path; /* the target */
    char tmp[4096];   /* the temporary file, created empty by atomic_file_begin */
} atomic_file;

/* Removes the temporary files of path ("<path>.tmp-<pid>-…") whose writing process no
 * longer exists on this host (killed runs); returns how many. A file whose pid runs,
 * even as another program, stays. */
int atomic_file_remove_stale(const char *path);
/* Removes path's stale temporary files, then creates an empty, uniquely named
 * temporary file next to it. */
nf_status atomic_file_begin(atomic_file *af, const char *path);
/* Writes size bytes of data as the temporary file's whole content; on failure (a full
 * disk) the temporary file is removed. */
nf_status atomic_file_write(atomic_file *af, const void *data, size_t size);
/* The temporary file is complete and closed by its writer: fsync it, rename it over
 * the target, fsync the directory. On failure the temporary file is removed. */
nf_status atomic_file_commit(atomic_file *af);
/* Removes the temporary file (after a failed write). */
void atomic_file_abort(atomic_file *af);

/* Test hook: called with stage "created" once the (empty) temporary file exists, "synced"
 * when it is complete and durable, just before the rename, and "renamed" after it. A test sets it in a
 * child process to die there (a simulated crash). NULL (the default) turns it off. */
typedef void (*atomic_file_hook)(const char *stage, const char *tmp, const char *path);
void atomic_file_set_test_hook(atomic_file_hook hook);

#endif
