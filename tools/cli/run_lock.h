/* The lock of a run directory: one `nflow train` at a time writes into a directory. */
#ifndef NFLOW_CLI_RUN_LOCK_H
#define NFLOW_CLI_RUN_LOCK_H

/* Takes an exclusive flock on DIR/.nflow.lock (created if missing) and writes this
 * process's pid into it. Returns CLI_OK with *fd the lock's descriptor (held until
 * run_unlock or the process ends), or prints why (naming the pid of the run that holds
 * the lock) and returns CLI_RUNTIME with *fd = -1. */
int run_lock(const char *cmd, const char *dir, int *fd);
/* Releases a lock from run_lock (fd < 0: nothing). The file stays: removing it would let
 * a third run lock a new file while a second still waits on the old one. */
void run_unlock(int fd);

#endif
