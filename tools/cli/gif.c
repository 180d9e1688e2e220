#define _POSIX_C_SOURCE 200809L
/* Animated GIF through giflib: a looping header, then per frame a graphics-control
 * block (delay) and an image with its own 256-colour map chosen by giflib's median-cut
 * quantiser. */
#include "gif.h"

#include <gif_lib.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int gif_fail(char *err, size_t errn, const char *what, int code) {
    snprintf(err, errn, "%s: %s", what, GifErrorString(code));
    return -1;
}

int gif_open(cli_gif *g, const char *path, int width, int height, char *err, size_t errn) {
    memset(g, 0, sizeof *g);
    int code = 0;
    /* open() rather than EGifOpenFileName, which creates the file mode 0600 */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        snprintf(err, errn, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    GifFileType *f = EGifOpenFileHandle(fd, &code);
    if (!f) {
        close(fd);
        return gif_fail(err, errn, path, code);
    }
    EGifSetGifVersion(f, true);
    g->file = f;
    g->width = width, g->height = height;
    g->planes = malloc(4 * (size_t)width * height);
    if (!g->planes) {
        snprintf(err, errn, "out of memory for GIF frames");
        EGifCloseFile(f, &code);
        g->file = NULL;
        return -1;
    }
    /* Loop forever: the NETSCAPE2.0 application extension, loop count 0. */
    static const unsigned char loop[3] = {1, 0, 0};
    if (EGifPutScreenDesc(f, width, height, 8, 0, NULL) == GIF_ERROR ||
        EGifPutExtensionLeader(f, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
        EGifPutExtensionBlock(f, 11, "NETSCAPE2.0") == GIF_ERROR || EGifPutExtensionBlock(f, 3, loop) == GIF_ERROR ||
        EGifPutExtensionTrailer(f) == GIF_ERROR) {
        int e = f->Error;
        gif_close(g, err, errn);
        return gif_fail(err, errn, path, e);
    }
    return 0;
}

int gif_add(cli_gif *g, const unsigned char *rgba, int delay_cs, char *err, size_t errn) {
    GifFileType *f = g->file;
    size_t np = (size_t)g->width * g->height;
    GifByteType *r = g->planes, *gr = r + np, *b = gr + np, *idx = b + np;
    for (size_t i = 0; i < np; i++) r[i] = rgba[4 * i], gr[i] = rgba[4 * i + 1], b[i] = rgba[4 * i + 2];
    ColorMapObject *cmap = GifMakeMapObject(256, NULL);
    int size = 256;
    if (!cmap || GifQuantizeBuffer((unsigned)g->width, (unsigned)g->height, &size, r, gr, b, idx, cmap->Colors) ==
                     GIF_ERROR) {
        GifFreeMapObject(cmap);
        snprintf(err, errn, "cannot quantise a GIF frame");
        return -1;
    }
    GraphicsControlBlock gcb = {DISPOSE_DO_NOT, false, delay_cs, NO_TRANSPARENT_COLOR};
    GifByteType ext[4];
    EGifGCBToExtension(&gcb, ext);
    int ok = EGifPutExtension(f, GRAPHICS_EXT_FUNC_CODE, 4, ext) != GIF_ERROR &&
             EGifPutImageDesc(f, 0, 0, g->width, g->height, false, cmap) != GIF_ERROR;
    for (int y = 0; ok && y < g->height; y++) ok = EGifPutLine(f, idx + (size_t)y * g->width, g->width) != GIF_ERROR;
    GifFreeMapObject(cmap);
    if (!ok) return gif_fail(err, errn, "writing a GIF frame", f->Error);
    g->frames++;
    return 0;
}

int gif_close(cli_gif *g, char *err, size_t errn) {
    int code = 0, rc = 0;
    if (g->file && EGifCloseFile(g->file, &code) == GIF_ERROR) rc = gif_fail(err, errn, "closing the GIF", code);
    free(g->planes);
    g->planes = NULL;
    g->file = NULL;
    return rc;
}
