/* Animated GIF written frame by frame with giflib (training.gif): memory stays one
 * frame, and every frame is on disk as soon as it is drawn. */
#ifndef NFLOW_CLI_GIF_H
#define NFLOW_CLI_GIF_H

#include <stddef.h>

typedef struct cli_gif {
    void *file;   /* GifFileType */
    int width, height;
    int frames;
    unsigned char *planes; /* (3 + 1, height, width): R, G, B, indices */
} cli_gif;

/* Opens path for frames of width x height that loop forever. 0, or -1 with err. */
int gif_open(cli_gif *g, const char *path, int width, int height, char *err, size_t errn);
/* Appends an RGBA frame (height, width, 4) shown for delay_cs hundredths of a second. */
int gif_add(cli_gif *g, const unsigned char *rgba, int delay_cs, char *err, size_t errn);
/* Writes the trailer and closes. */
int gif_close(cli_gif *g, char *err, size_t errn);

#endif
