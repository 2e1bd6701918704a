/*
 * measure.c - run one command and report the CPU time and peak RSS it used.
 *
 * Like bench/measure.py, but a small C parent: the peak RSS reported by
 * wait4(2) is a high-water mark that includes the memory of the process
 * that forked the command, so a python parent (~10 MiB) would hide tools
 * smaller than itself. Times are printed to the microsecond (GNU time
 * prints hundredths, too coarse for the floor).
 *
 * Build: cc -O2 bench/measure.c -o measure
 * Usage: measure TIMEOUT_S LOG -- COMMAND [ARG...]
 * Prints "user_s sys_s maxrss_kib wall_s status" (status: exit code,
 * signalN or timeout). The command's stdout and stderr go to LOG.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig)
{
    (void)sig;
    if (!timed_out) {
        timed_out = 1;
        kill(child, SIGTERM);
        alarm(5);
    } else {
        kill(child, SIGKILL);
    }
}

int main(int argc, char **argv)
{
    if (argc < 5 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: %s TIMEOUT_S LOG -- COMMAND [ARG...]\n", argv[0]);
        return 2;
    }
    unsigned timeout = (unsigned)strtoul(argv[1], NULL, 10);
    int log = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log < 0) {
        perror(argv[2]);
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    child = fork();
    if (child < 0) {
        perror("fork");
        return 2;
    }
    if (child == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(log, 1);
        dup2(log, 2);
        execvp(argv[4], argv + 4);
        fprintf(stderr, "measure: %s: %s\n", argv[4], strerror(errno));
        _exit(127);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    if (timeout)
        alarm(timeout);
    int st;
    struct rusage ru;
    while (wait4(child, &st, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("wait4");
            return 2;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char status[32];
    if (timed_out)
        snprintf(status, sizeof(status), "timeout");
    else if (WIFEXITED(st))
        snprintf(status, sizeof(status), "%d", WEXITSTATUS(st));
    else
        snprintf(status, sizeof(status), "signal%d", WTERMSIG(st));
    printf("%.6f %.6f %ld %.3f %s\n", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
           ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss,
           (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, status);
    return 0;
}
