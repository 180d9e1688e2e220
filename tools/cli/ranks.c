/* nflow train's ranks (ranks.h). */
#define _GNU_SOURCE /* sched_getaffinity */
#include "ranks.h"

#include "cli.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>


static int env_int(const char *name) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : 0;
}

/* SLURM_STEP_NUM_TASKS, not SLURM_NTASKS: a batch script's own commands run in a job of
 * many tasks but are one process; srun sets the step's count. */
int cli_ranks_launched(void) {
    const char *names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        int n = env_int(names[i]);
        if (n > 0) return n;
    }
    return 1;
}

int cli_ranks_open(cli_ranks *r, const char *cmd) {
    r->dist = NULL;
    r->rank = 0;
    r->size = 1;
    int launched = cli_ranks_launched();
    if (launched <= 1) return CLI_OK;
    if (!nf_dist_mpi_built())
        return cli_error(CLI_USAGE, cmd,
                         "launched as %d ranks (mpirun/srun), but this nflow was built without MPI: configure with "
                         "-DNFLOW_MPI=ON, or run a single process",
                         launched);
    nf_status s = nf_dist_create_mpi(&r->dist);
    if (s != NF_OK) return cli_nf_error(s, cmd, "starting MPI");
    r->rank = nf_dist_rank(r->dist);
    r->size = nf_dist_size(r->dist);
    if (r->rank > 0) {
        static char tag[32];
        snprintf(tag, sizeof tag, " (rank %d)", r->rank);
        cli_rank_tag = tag;
        if (!freopen("/dev/null", "w", stdout)) return cli_error(CLI_RUNTIME, cmd, "cannot silence standard output");
    }
    return CLI_OK;
}

void cli_ranks_close(cli_ranks *r) {
    nf_dist_destroy(r->dist);
    r->dist = NULL;
}

void cli_ranks_share(long long n, int r, int size, long long *lo, long long *hi) {
    *lo = n * r / size;
    *hi = n * (r + 1) / size;
}

int cli_ranks_agree(const cli_ranks *r, const char *cmd, int rc) {
    if (!r->dist) return rc;
    int first = -1;
    nf_status s = nf_dist_first_failure(r->dist, rc != CLI_OK, &first);
    if (s != NF_OK) return cli_nf_error(s, cmd, "agreeing with the other ranks");
    if (first < 0 || rc != CLI_OK) return rc;
    if (r->rank == 0) cli_error(CLI_RUNTIME, cmd, "rank %d failed (its message above says why); stopping every rank", first);
    return CLI_RUNTIME;
}

int cli_ranks_debug_fail(const cli_ranks *r, long step) {
    const char *v = getenv("NFLOW_DEBUG_FAIL");
    int rank;
    long at;
    return v && sscanf(v, "%d:%ld", &rank, &at) == 2 && rank == r->rank && at == step;
}

int cli_ranks_threads(const cli_ranks *r) {
    if (r->size <= 1 || getenv("OMP_NUM_THREADS")) return 0;
    int n = env_int("SLURM_CPUS_PER_TASK");
    if (n > 0) return n;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    int mine = CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int local = env_int("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (local <= 0) local = env_int("MPI_LOCALNRANKS");
    if (local <= 0) local = env_int("SLURM_NTASKS_PER_NODE");
    if (mine >= online && local > 1) mine /= local; /* unbound: share the node */
    return mine > 0 ? mine : 1;
}
