/* Walking a folder tree in a fixed order (see image.h). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "image.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct listing {
    char **names; /* (count) sorted */
    int count, cap;
} listing;

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void listing_free(listing *l) {
    for (int i = 0; i < l->count; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

/* The visible entries of dir, sorted. */
static nf_status list(const char *dir, listing *l) {
    memset(l, 0, sizeof *l);
    DIR *d = opendir(dir);
    if (!d) return nf_fail(NF_ERR_IO, "cannot open folder '%s': %s", dir, strerror(errno));
    nf_status st = NF_OK;
    struct dirent *e;
    while (st == NF_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (l->count == l->cap) {
            int cap = l->cap ? 2 * l->cap : 64;
            char **grown = realloc(l->names, sizeof(char *) * (size_t)cap);
            if (!grown) st = nf_fail(NF_ERR_NOMEM, "out of memory listing '%s'", dir);
            else l->names = grown, l->cap = cap;
        }
        if (st == NF_OK && !(l->names[l->count] = strdup(e->d_name)))
            st = nf_fail(NF_ERR_NOMEM, "out of memory listing '%s'", dir);
        if (st == NF_OK) l->count++;
    }
    closedir(d);
    if (st != NF_OK) listing_free(l);
    else if (l->count) qsort(l->names, (size_t)l->count, sizeof(char *), by_name);
    return st;
}

/* 'd' a folder (not through a link), 'f' a regular file (links followed), 0 anything else. */
static int kind_of(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return 0;
    if (S_ISDIR(sb.st_mode)) return 'd';
    if (S_ISLNK(sb.st_mode) && stat(path, &sb) != 0) return 0;
    return S_ISREG(sb.st_mode) ? 'f' : 0;
}

static nf_status walk(char *path, size_t root_len, size_t cap, nfd_walk_fn fn, void *ctx) {
    listing l;
    NF_TRY(list(path, &l));
    size_t len = strlen(path);
    nf_status st = NF_OK;
    for (int i = 0; i < l.count && st == NF_OK; i++) {
        if (len + 1 + strlen(l.names[i]) + 1 > cap) {
            st = nf_fail(NF_ERR_ARG, "path too long under '%s'", path);
            break;
        }
        snprintf(path + len, cap - len, "/%s", l.names[i]);
        int k = kind_of(path);
        if (k == 'd') st = walk(path, root_len, cap, fn, ctx);
        else if (k == 'f') st = fn(ctx, path, path + root_len + 1);
        path[len] = 0;
    }
    listing_free(&l);
    return st;
}

nf_status nfd_walk(const char *dir, nfd_walk_fn fn, void *ctx) {
    char path[4096];
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--; /* "dir/" walks as "dir" */
    if (n + 2 > sizeof path) return nf_fail(NF_ERR_ARG, "folder name too long");
    memcpy(path, dir, n);
    path[n] = 0;
    return walk(path, n, sizeof path, fn, ctx);
}

nf_status nfd_list_subdirs(const char *dir, char ***names, int *count) {
    *names = NULL;
    *count = 0;
    listing l;
    NF_TRY(list(dir, &l));
    char path[4096];
    int *is_dir = calloc((size_t)l.count + 1, sizeof(int));
    size_t bytes = 0;
    nf_status st = is_dir ? NF_OK : nf_fail(NF_ERR_NOMEM, "out of memory listing '%s'", dir);
    for (int i = 0; st == NF_OK && i < l.count; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, l.names[i]);
        is_dir[i] = kind_of(path) == 'd';
        if (is_dir[i]) bytes += strlen(l.names[i]) + 1, (*count)++;
    }
    char **out = st == NF_OK ? nf_alloc(sizeof(char *) * (size_t)*count + bytes + 1) : NULL;
    if (st == NF_OK && !out) st = nf_fail(NF_ERR_NOMEM, "out of memory listing '%s'", dir);
    if (st == NF_OK) {
        char *s = (char *)(out + *count);
        for (int i = 0, j = 0; i < l.count; i++)
            if (is_dir[i]) {
                out[j++] = strcpy(s, l.names[i]);
                s += strlen(s) + 1;
            }
        *names = out;
    }
    free(is_dir);
    listing_free(&l);
    return st;
}
