#include "proc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long proc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A short pause between two checks of a condition; never a substitute for the check. */
static void backoff(void)
{
    poll(NULL, 0, 10);
}

const char *proc_bin(const char *name, char *buf, size_t size)
{
    const char *dir = getenv("CT_BIN_DIR");
    cr_assert(dir != NULL, "CT_BIN_DIR unset: run through ctest");
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

void proc_start(struct proc *p, const char *log_path, char *const argv[])
{
    char path[512];
    const char *program = strchr(argv[0], '/') ? argv[0] : proc_bin(argv[0], path, sizeof(path));
    pid_t pid;

    snprintf(p->log_path, sizeof(p->log_path), "%s", log_path);
    p->exit_status = -1;
    pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0)
            _exit(126);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
        execv(program, argv);
        _exit(127);
    }
    p->pid = pid;
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    bool found = false;

    if (f == NULL)
        return false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static bool reap(struct proc *p, int options)
{
    int status;
    pid_t r = waitpid(p->pid, &status, options);

    if (r != p->pid)
        return false;
    p->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    p->pid = 0;
    return true;
}

bool proc_wait_log(const struct proc *p, const char *needle, int timeout_ms)
{
    long long deadline = proc_now_ms() + timeout_ms;

    do {
        if (file_contains(p->log_path, needle))
            return true;
        backoff();
    } while (proc_now_ms() < deadline);
    return file_contains(p->log_path, needle);
}

bool proc_wait(struct proc *p, int timeout_ms)
{
    long long deadline = proc_now_ms() + timeout_ms;

    if (p->pid == 0)
        return true;
    do {
        if (reap(p, WNOHANG))
            return true;
        backoff();
    } while (proc_now_ms() < deadline);
    return false;
}

bool proc_stop(struct proc *p, int sig, int timeout_ms)
{
    if (p->pid == 0)
        return true;
    kill(p->pid, sig);
    if (proc_wait(p, timeout_ms))
        return true;
    kill(p->pid, SIGKILL);
    reap(p, 0);
    return false;
}

int proc_run(char *const argv[], char *out, size_t out_size)
{
    char path[512];
    const char *program = strchr(argv[0], '/') ? argv[0] : proc_bin(argv[0], path, sizeof(path));
    int pipefd[2], status;
    size_t used = 0;
    pid_t pid;

    cr_assert(pipe(pipefd) == 0);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        dup2(pipefd[1], STDERR_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(program, argv);
        _exit(127);
    }
    close(pipefd[1]);
    for (;;) {
        char chunk[4096];
        ssize_t n = read(pipefd[0], chunk, sizeof(chunk));
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n && used + 1 < out_size; i++)
            out[used++] = chunk[i];
    }
    if (out_size > 0)
        out[used] = '\0';
    close(pipefd[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

long proc_peak_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return kib;
}

void proc_remove_scratch(const char *dir)
{
    char *const argv[] = {"/bin/rm", "-rf", (char *)dir, NULL};
    char out[512];

    if (dir[0] == '\0' || getenv("CT_KEEP_TEST_DIRS") != NULL)
        return;
    cr_expect_eq(proc_run(argv, out, sizeof(out)), 0, "rm -rf %s: %s", dir, out);
}
