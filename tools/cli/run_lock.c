/* Run-directory lock (see run_lock.h). flock rather than fcntl locks: a flock belongs to
 * the open file, so threads and forks of this process cannot drop it by closing another
 * descriptor of the same file. flock cannot say who holds it, hence the pid in the file. */
#define _DEFAULT_SOURCE /* flock */
#include "run_lock.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int run_lock(const char *cmd, const char *dir, int *fd) {
    char path[4200];
    cli_path(path, sizeof path, dir, ".nflow.lock");
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0664);
    if (*fd < 0) return cli_error(CLI_RUNTIME, cmd, "cannot create the lock %s: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char pid[32] = "";
        ssize_t n = pread(*fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(*fd);
        *fd = -1;
        if (err == EWOULDBLOCK)
            return cli_error(CLI_RUNTIME, cmd, "%s is in use by another nflow train (pid %s); wait for it to end or give "
                             "another --out", dir, pid[0] ? pid : "unknown");
        return cli_error(CLI_RUNTIME, cmd, "cannot lock %s: %s", path, strerror(err));
    }
    char line[32];
    int len = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    if (ftruncate(*fd, 0) != 0 || pwrite(*fd, line, (size_t)len, 0) != len) {
        int err = errno;
        close(*fd);
        *fd = -1;
        return cli_error(CLI_RUNTIME, cmd, "cannot write the lock %s: %s", path, strerror(err));
    }
    return CLI_OK;
}

void run_unlock(int fd) {
    if (fd >= 0) close(fd); /* closing the only descriptor releases the flock */
}
