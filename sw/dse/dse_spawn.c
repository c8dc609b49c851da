/*
 * dse_spawn.c — running another program (brecq quantize / eval, the synthesis script) as a child
 * of a sweep, its output into a log file. See dse_merge.h. posix_spawn, not system(): no shell
 * parses the paths, and the child's exit status is exact.
 */
#include "core/errmsg.h"
#include "core/fileio.h"
#include "dse/dse_merge.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int bq_dse_self_exe(char *path, size_t n) {
    ssize_t l = readlink("/proc/self/exe", path, n - 1);
    if (l <= 0 || (size_t)l >= n - 1) return -1;
    path[l] = 0;
    return 0;
}

/* The child is a plain single process: under mpirun, the launcher's variables (OMPI_*, PMIX_*,
 * PMI_*) would make a spawned `brecq quantize` believe it is an MPI rank and call MPI_Init, which
 * aborts outside the launcher's job. So the child gets this environment without them. */
static int is_mpi_launcher_var(const char *entry) {
    return strncmp(entry, "OMPI_", 5) == 0 || strncmp(entry, "PMIX_", 5) == 0 ||
           strncmp(entry, "PMI_", 4) == 0;
}

/* environ without the launcher's variables; NULL when out of memory. Free the array only. */
static char **child_environment(void) {
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 1, sizeof *env);
    if (!env) return NULL;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_mpi_launcher_var(environ[i])) env[kept++] = environ[i];
    env[kept] = NULL;
    return env;
}

int bq_dse_spawn(char *const argv[], const char *log, const char *what, char *err, size_t errlen) {
    char **env = child_environment();
    if (!env) {
        bq_seterr(err, errlen, "dse: %s: out of memory", what);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int status = 0, sp = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    if (sp != 0) {
        bq_seterr(err, errlen, "dse: %s: cannot run %s (%s)", what, argv[0], strerror(sp));
        return -1;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status))
        bq_seterr(err, errlen, "dse: %s failed (exit %d); its output is in %s", what,
                  WEXITSTATUS(status), log);
    else
        bq_seterr(err, errlen, "dse: %s was killed (signal %d); its output is in %s", what,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0, log);
    return -1;
}

int bq_dse_read_result(const char *path, char *text, size_t cap, char *err, size_t errlen) {
    unsigned char *b = NULL;
    size_t len = 0;
    if (bq_read_file(path, &b, &len, err, errlen)) return -1;
    memset(text, 0, cap);
    memcpy(text, b, len < cap - 1 ? len : cap - 1);
    free(b);
    return 0;
}
