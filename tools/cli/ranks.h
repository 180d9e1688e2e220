/* nflow train as one of several MPI ranks (mpirun -n R, srun): which rank this process
 * is, how the global batch and the data are shared, and agreement on failures. Built
 * without MPI, a launch of several ranks is refused with a clear message. */
#ifndef NFLOW_CLI_RANKS_H
#define NFLOW_CLI_RANKS_H

#include <nflow.h>

typedef struct cli_ranks {
    nf_dist *dist; /* NULL: one process */
    int rank, size;
} cli_ranks;

/* The number of ranks the launcher (Open MPI's mpirun, MPICH/Slurm PMI, Slurm's srun)
 * says this job has; 1 outside a launcher. */
int cli_ranks_launched(void);
/* One process, or (launched as several ranks) the MPI group: rank r > 0 then sends its
 * standard output to /dev/null and tags its error lines "nflow CMD (rank r): ...".
 * Returns an exit code (CLI_USAGE when launched as several ranks without MPI). */
int cli_ranks_open(cli_ranks *r, const char *cmd);
void cli_ranks_close(cli_ranks *r);
/* Share [lo, hi) of rank r among size of n items: n r / size .. n (r+1) / size. */
void cli_ranks_share(long long n, int r, int size, long long *lo, long long *hi);
/* After a piece of work every rank did (rc its own exit code, its error printed already):
 * CLI_OK when all succeeded; else rc on a rank that failed, and on the others
 * CLI_RUNTIME with one line naming the first rank that failed. */
int cli_ranks_agree(const cli_ranks *r, const char *cmd, int rc);
/* Threads for this rank when neither --threads nor OMP_NUM_THREADS says: Slurm's
 * --cpus-per-task, else the cores this rank may run on, divided among the ranks of its
 * node when the launcher bound none of them (every rank sees every core). 0: one
 * process, or nothing to go by (the library's default then applies). */
int cli_ranks_threads(const cli_ranks *r);
/* Testing hook: 1 when NFLOW_DEBUG_FAIL="RANK:STEP" names this rank and step (its read
 * of that step's batch then fails). */
int cli_ranks_debug_fail(const cli_ranks *r, long step);

#endif
