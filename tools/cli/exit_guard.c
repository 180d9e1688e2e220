/* The command's way out. OpenBLAS's exit handler (gotoblas_quit, from _dl_fini) joins
 * its worker threads, and a worker whose buffer allocation failed at start-up retries
 * that allocation forever (OpenBLAS 0.3.21, blas_memory_alloc): under a memory limit
 * every exit, even after a clean "out of memory" line, would hang there. So once main
 * or anyone else (libgomp's fatal errors) calls exit, this handler, registered first
 * in main and therefore run after the handlers registered since (HDF5's), flushes the
 * streams and leaves with _exit. Nothing of nflow's is left to do by then: every
 * command closes its files before it returns. */
#define _DEFAULT_SOURCE /* on_exit */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* LeakSanitizer's check, which exit would have run (weak: absent in plain builds). */
extern void __lsan_do_leak_check(void) __attribute__((weak));

static void leave(int status, void *arg) {
    (void)arg;
    fflush(NULL);
    if (__lsan_do_leak_check) __lsan_do_leak_check();
    _exit(status);
}

void cli_exit_guard(void) { on_exit(leave, NULL); }
