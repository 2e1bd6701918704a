/*
 * log.c - leveled logging: "TIME [pid] LEVEL: message" lines on stderr, TIME
 * in ISO 8601 UTC with milliseconds, or the same lines to syslog (--syslog).
 * A terminal may also show one status line (file progress) below them.
 */
#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

int mc_log_level = MC_LOG_INFO;

static int to_syslog;
/* stderr's lines and the status line are written by several threads: one at a time */
static pthread_mutex_t stderr_lock = PTHREAD_MUTEX_INITIALIZER;
static char status[256]; /* the status line shown on the terminal, "" for none */

size_t mc_log_format_time(char *buf, size_t len, const struct timespec *t)
{
    struct tm tm;
    time_t sec = t->tv_sec;
    char day[24];
    if (!gmtime_r(&sec, &tm) || !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm))
        day[0] = 0;
    int n = snprintf(buf, len, "%s.%03ldZ", day, (long)(t->tv_nsec / 1000000));
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

int mc_log_syslog_priority(int level)
{
    static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };
    return prio[level < 0 ? 0 : level > 4 ? 4 : level];
}

void mc_log_open_syslog(const char *ident)
{
    /* LOG_NDELAY: /dev/log is connected now, before --user or a chroot could deny it */
    openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    to_syslog = 1;
}

void mc_log_close(void)
{
    if (to_syslog)
        closelog();
    to_syslog = 0;
}

void mc_log(int level, const char *fmt, ...)
{
    static const char *const names[] = { "error", "warning", "notice", "info", "debug" };
    if (level > mc_log_level)
        return;
    level = level < 0 ? 0 : level > 4 ? 4 : level;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (to_syslog) {
        syslog(mc_log_syslog_priority(level), "%s: %s", names[level], msg); /* syslog adds time and pid */
        return;
    }
    char when[32];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    mc_log_format_time(when, sizeof(when), &now);
    pthread_mutex_lock(&stderr_lock);
    /* a status line is erased, the log line takes its place, and it comes back below */
    fprintf(stderr, "%s%s [%d] %s: %s\n%s", status[0] ? "\r\033[K" : "", when, (int)getpid(), names[level], msg,
            status);
    pthread_mutex_unlock(&stderr_lock);
}

void mc_log_status(const char *text, int keep)
{
    pthread_mutex_lock(&stderr_lock);
    fprintf(stderr, "\r%s\033[K%s", text ? text : "", keep && text ? "\n" : "");
    snprintf(status, sizeof(status), "%s", keep || !text ? "" : text);
    pthread_mutex_unlock(&stderr_lock);
}
