/* log.h - leveled logging to stderr or syslog; never called per packet. */
#ifndef MC_COMMON_LOG_H
#define MC_COMMON_LOG_H

#include <stddef.h>
#include <time.h>

/* NOTICE: news an operator who silenced info (-q) still wants, such as a
 * failed part working again after a warning said it failed. */
enum mc_log_level { MC_LOG_ERROR = 0, MC_LOG_WARN = 1, MC_LOG_NOTICE = 2, MC_LOG_INFO = 3, MC_LOG_DEBUG = 4 };

/* Messages above this level are dropped: -q sets MC_LOG_NOTICE, -v MC_LOG_DEBUG (see main). */
extern int mc_log_level;

void mc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* From now on lines go to syslog (facility daemon, ident[pid], "LEVEL: message") instead of stderr.
 * ident is borrowed until mc_log_close, which closes the connection (at exit). */
void mc_log_open_syslog(const char *ident);
void mc_log_close(void);

/* The syslog priority of a level: error LOG_ERR, warning LOG_WARNING, ..., debug LOG_DEBUG. */
int mc_log_syslog_priority(int level);

/* Writes t as ISO 8601 UTC with milliseconds ("2026-12-03T14:51:00.123Z", 24 characters) into buf
 * (NUL-terminated, cut to len); returns the length written.  The clock of every stderr line. */
size_t mc_log_format_time(char *buf, size_t len, const struct timespec *t);

/* Shows text as the terminal's last line, below the log lines (which redraw it): progress.  The
 * caller checks that stderr is a terminal.  keep: the line stays and is no longer redrawn; NULL
 * erases it. */
void mc_log_status(const char *text, int keep);

#define mc_err(...) mc_log(MC_LOG_ERROR, __VA_ARGS__)
#define mc_warn(...) mc_log(MC_LOG_WARN, __VA_ARGS__)
#define mc_notice(...) mc_log(MC_LOG_NOTICE, __VA_ARGS__)
#define mc_info(...) mc_log(MC_LOG_INFO, __VA_ARGS__)
#define mc_debug(...) mc_log(MC_LOG_DEBUG, __VA_ARGS__)

#endif
