/* Crash-safe file replacement (see atomic_file.h): the data reaches the disk before the
 * rename, and the rename reaches the disk before we report success. */
#define _POSIX_C_SOURCE 200809L
#include "io/atomic_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_file_hook test_hook;
static atomic_uint tmp_counter;

void atomic_file_set_test_hook(atomic_file_hook hook) { test_hook = hook; }

/* The directory holding path ("." for a bare name), into buf. */
static void dir_of(const char *path, char *buf, size_t size) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, size, ".");
    else if (slash == path) snprintf(buf, size, "/");
    else snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

/* The writer's pid if name is "<base>.tmp-<pid>-<counter>-<8 hex digits>" (what
 * atomic_file_begin makes for base), else 0. */
static long temporary_owner(const char *name, const char *base) {
    size_t n = strlen(base);
    if (strncmp(name, base, n) || strncmp(name + n, ".tmp-", 5)) return 0;
    const char *p = name + n + 5;
    char *end;
    errno = 0;
    long pid = strtol(p, &end, 10);
    if (errno || end == p || *p == '-' || *p == '+' || *end != '-' || pid <= 0) return 0;
    p = end + 1;
    (void)strtoul(p, &end, 10);
    if (end == p || *p == '-' || *p == '+' || *end != '-') return 0;
    p = end + 1;
    for (int i = 0; i < 8; i++)
        if (!isxdigit((unsigned char)p[i])) return 0;
    return p[8] == 0 ? pid : 0;
}

int atomic_file_remove_stale(const char *path) {
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid = temporary_owner(e->d_name, base);
        /* a pid that runs (or that we may not signal) might still be writing */
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        removed += unlink(full) == 0;
    }
    closedir(d);
    return removed;
}

nf_status atomic_file_begin(atomic_file *af, const char *path) {
    NF_CHECK_NULL(af);
    NF_CHECK_NULL(path);
    af->path = path;
    af->tmp[0] = 0;
    if (!path[0]) return nf_fail(NF_ERR_ARG, "cannot write a file with an empty name");
    atomic_file_remove_stale(path); /* left by killed writers: they would fill the disk */
    for (int attempt = 0; attempt < 100; attempt++) {
        /* pid and counter separate processes and threads on one host; the clock's
         * nanoseconds separate hosts sharing a network directory */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned n = atomic_fetch_add(&tmp_counter, 1);
        int len = snprintf(af->tmp, sizeof af->tmp, "%s.tmp-%ld-%u-%08lx", path, (long)getpid(), n,
                           (unsigned long)(ts.tv_nsec ^ (ts.tv_sec << 20)) & 0xffffffffUL);
        if (len < 0 || (size_t)len >= sizeof af->tmp) {
            af->tmp[0] = 0;
            return nf_fail(NF_ERR_ARG, "file name too long (%zu characters)", strlen(path));
        }
        int fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd >= 0) {
            close(fd);
            if (test_hook) test_hook("created", af->tmp, af->path);
            return NF_OK;
        }
        if (errno != EEXIST) {
            int err = errno;
            af->tmp[0] = 0;
            return nf_fail(NF_ERR_WRITE, "cannot create a temporary file next to it: %s", strerror(err));
        }
    }
    af->tmp[0] = 0;
    return nf_fail(NF_ERR_WRITE, "cannot find a free temporary file name next to it");
}

nf_status atomic_file_write(atomic_file *af, const void *data, size_t size) {
    NF_CHECK_NULL(af);
    if (!af->tmp[0]) return nf_fail(NF_ERR_STATE, "atomic_file_write: no temporary file");
    int fd = open(af->tmp, O_WRONLY | O_TRUNC);
    int err = fd < 0 ? errno : 0;
    const char *p = data;
    while (!err && size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            err = n < 0 ? errno : EIO;
            break;
        }
        p += n;
        size -= (size_t)n;
    }
    if (fd >= 0 && close(fd) != 0 && !err) err = errno;
    if (!err) return NF_OK;
    atomic_file_abort(af);
    return nf_fail(NF_ERR_WRITE, "cannot write the temporary file: %s", strerror(err));
}

void atomic_file_abort(atomic_file *af) {
    if (af && af->tmp[0]) unlink(af->tmp);
    if (af) af->tmp[0] = 0;
}

/* fsync of a path opened read-only (a file, or a directory for the entries in it). */
static int sync_path(const char *p, int dir) {
    int fd = open(p, O_RDONLY | (dir ? O_DIRECTORY : 0));
    if (fd < 0) return -1;
    int r = fsync(fd);
    /* some file systems cannot sync a directory: nothing more can be done there */
    if (r < 0 && dir && (errno == EINVAL || errno == ENOTSUP)) r = 0;
    int err = errno;
    close(fd);
    errno = err;
    return r;
}

nf_status atomic_file_commit(atomic_file *af) {
    NF_CHECK_NULL(af);
    if (!af->tmp[0]) return nf_fail(NF_ERR_STATE, "atomic_file_commit: no temporary file");
    if (sync_path(af->tmp, 0) < 0) {
        int err = errno;
        atomic_file_abort(af);
        return nf_fail(NF_ERR_WRITE, "cannot flush the temporary file to disk: %s", strerror(err));
    }
    if (test_hook) test_hook("synced", af->tmp, af->path);
    if (rename(af->tmp, af->path) != 0) {
        int err = errno;
        atomic_file_abort(af);
        return nf_fail(NF_ERR_WRITE, "cannot rename the temporary file over it: %s", strerror(err));
    }
    af->tmp[0] = 0;
    if (test_hook) test_hook("renamed", NULL, af->path);
    char dir[4096];
    dir_of(af->path, dir, sizeof dir);
    if (sync_path(dir, 1) < 0)
        return nf_fail(NF_ERR_WRITE, "written, but the directory '%s' could not be flushed: %s", dir, strerror(errno));
    return NF_OK;
}
