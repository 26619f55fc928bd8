#include "signals.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

int ct_signals_init(struct ct_signals *s, char *err, size_t err_size)
{
    sigset_t set;
    int failed;

    s->fd = -1;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    failed = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (failed != 0) {
        snprintf(err, err_size, "blocking signals: %s", strerror(failed));
        return -1;
    }
    s->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->fd < 0) {
        snprintf(err, err_size, "signalfd: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int ct_signals_next(struct ct_signals *s)
{
    struct signalfd_siginfo info;

    if (s->fd < 0 || read(s->fd, &info, sizeof(info)) != (ssize_t)sizeof(info))
        return 0;
    return (int)info.ssi_signo;
}

void ct_signals_release(struct ct_signals *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}
