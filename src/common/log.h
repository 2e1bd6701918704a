/* log.h - leveled logging to stderr; never called per packet. */
#ifndef MC_COMMON_LOG_H
#define MC_COMMON_LOG_H

enum mc_log_level { MC_LOG_ERROR = 0, MC_LOG_WARN = 1, MC_LOG_INFO = 2, MC_LOG_DEBUG = 3 };

/* Messages above this level are dropped; -v raises it (default MC_LOG_WARN... see main). */
extern int mc_log_level;

void mc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mc_err(...) mc_log(MC_LOG_ERROR, __VA_ARGS__)
#define mc_warn(...) mc_log(MC_LOG_WARN, __VA_ARGS__)
#define mc_info(...) mc_log(MC_LOG_INFO, __VA_ARGS__)
#define mc_debug(...) mc_log(MC_LOG_DEBUG, __VA_ARGS__)

#endif
