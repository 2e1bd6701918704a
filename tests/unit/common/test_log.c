/* test_log.c - log lines: ISO 8601 UTC times with milliseconds whatever TZ says, the syslog
 * priorities, and the terminal status line redrawn below the log lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"

/* Runs fn with stderr sent to a temporary file; returns what it wrote (static buffer). */
static const char *captured(void (*fn)(void))
{
    static char out[4096];
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), 2) >= 0);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, sizeof(out) - 1, tmp);
    out[n] = 0;
    fclose(tmp);
    return out;
}

static void test_format_time(void **state)
{
    (void)state;
    setenv("TZ", "XST-5:30", 1); /* a zone far from UTC: the text must not follow it */
    tzset();
    struct {
        struct timespec t;
        const char *want;
    } cases[] = {
        { { 0, 0 }, "1970-01-01T00:00:00.000Z" },
        { { 0, 999999999 }, "1970-01-01T00:00:00.999Z" }, /* truncated, never rounded into the next second */
        { { 1796309460, 123456789 }, "2026-12-03T14:51:00.123Z" },
        { { 1796309460 + 86399, 1000000 }, "2026-12-04T14:50:59.001Z" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32];
        size_t n = mc_log_format_time(buf, sizeof(buf), &cases[i].t);
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(n, 24);
    }
    char small[11]; /* cut, still terminated */
    struct timespec t = { 0, 0 };
    assert_int_equal(mc_log_format_time(small, sizeof(small), &t), 10);
    assert_string_equal(small, "1970-01-01");
}

static void log_one(void)
{
    mc_log_level = MC_LOG_INFO;
    mc_info("hello %d", 42);
    mc_debug("not shown at info");
}

static void test_stderr_line(void **state)
{
    (void)state;
    setenv("TZ", "XST-5:30", 1);
    tzset();
    struct timespec before, after;
    clock_gettime(CLOCK_REALTIME, &before);
    const char *out = captured(log_one);
    clock_gettime(CLOCK_REALTIME, &after);
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ [pid] info: hello 42\n", the time between before and after, in UTC */
    char want_tail[64];
    snprintf(want_tail, sizeof(want_tail), " [%d] info: hello 42\n", (int)getpid());
    assert_int_equal(strlen(out), 24 + strlen(want_tail));
    assert_string_equal(out + 24, want_tail);
    assert_int_equal(out[23], 'Z');
    char lo[32], hi[32], got[25];
    before.tv_nsec -= before.tv_nsec % 1000000;
    mc_log_format_time(lo, sizeof(lo), &before);
    mc_log_format_time(hi, sizeof(hi), &after);
    memcpy(got, out, 24);
    got[24] = 0;
    assert_true(strcmp(lo, got) <= 0);
    assert_true(strcmp(got, hi) <= 0);
}

static void test_syslog_priority(void **state)
{
    (void)state;
    assert_int_equal(mc_log_syslog_priority(MC_LOG_ERROR), LOG_ERR);
    assert_int_equal(mc_log_syslog_priority(MC_LOG_WARN), LOG_WARNING);
    assert_int_equal(mc_log_syslog_priority(MC_LOG_NOTICE), LOG_NOTICE);
    assert_int_equal(mc_log_syslog_priority(MC_LOG_INFO), LOG_INFO);
    assert_int_equal(mc_log_syslog_priority(MC_LOG_DEBUG), LOG_DEBUG);
    assert_int_equal(mc_log_syslog_priority(-1), LOG_ERR); /* out of range: the nearest level */
    assert_int_equal(mc_log_syslog_priority(9), LOG_DEBUG);
}

static void status_then_log(void)
{
    mc_log_level = MC_LOG_INFO;
    mc_log_status("50%", 0);
    mc_info("line");
    mc_log_status("100%", 1);
    mc_info("after");
}

static void test_status_line(void **state)
{
    (void)state;
    const char *out = captured(status_then_log);
    /* the status is erased before the log line and drawn again below it; once kept it is left alone */
    const char *p = out;
    assert_memory_equal(p, "\r50%\033[K", 7);
    p += 7;
    assert_memory_equal(p, "\r\033[K", 4);
    p += 4;
    const char *nl = strchr(p, '\n');
    assert_non_null(nl);
    assert_true(strstr(p, " info: line\n") == nl - strlen(" info: line"));
    p = nl + 1;
    assert_memory_equal(p, "50%\r100%\033[K\n", 12);
    p += 12;
    assert_int_equal(p[23], 'Z'); /* "after" starts a line of its own, nothing to erase */
    assert_non_null(strstr(p, " info: after\n"));
    assert_null(strchr(p, '\r'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_stderr_line),
        cmocka_unit_test(test_syslog_priority),
        cmocka_unit_test(test_status_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
