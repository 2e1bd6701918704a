/* log.c - leveled logging: "mcprobe[pid] LEVEL message" lines on stderr. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int mc_log_level = MC_LOG_INFO;

void mc_log(int level, const char *fmt, ...)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };
    if (level > mc_log_level)
        return;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", localtime_r(&now, &tm));
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s [%d] %s: %s\n", when, (int)getpid(), names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}
