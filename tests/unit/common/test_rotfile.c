/*
 * test_rotfile.c - rotated output files: the --json-rotate syntax; rotation by
 * size and by time (interval boundaries of the caller's clock) into
 * PATH.YYYYMMDDTHHMMSSZ files that each hold whole lines and together every
 * line; names never replace a file; a failed rename keeps writing to the old
 * file; a file removed behind its back is started again; reopen (SIGHUP).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/rotfile.h"

#define T_1430 1796308200000ull /* 2026-12-03T14:30:00Z */
#define HOUR 3600000ull

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mc_rotfile_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* dir/name, in one of 64 static buffers: enough for every name one test holds */
static char *in_dir(const char *name)
{
    static char bufs[64][512];
    static int i;
    char *b = bufs[i++ % 64];
    snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
    return b;
}

/* The whole file, or NULL when it does not exist (a static buffer of four). */
static const char *slurp(const char *path)
{
    static char bufs[4][8192];
    static int i;
    char *b = bufs[i++ % 4];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(b, 1, sizeof(bufs[0]) - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_parse(void **state)
{
    (void)state;
    struct mc_rotate r;
    char err[256];
    assert_int_equal(mc_rotate_parse("1h", &r, err, sizeof(err)), 0);
    assert_true(r.every_ms == HOUR && r.max_bytes == 0);
    assert_int_equal(mc_rotate_parse("30m", &r, err, sizeof(err)), 0);
    assert_true(r.every_ms == 30 * 60000ull);
    assert_int_equal(mc_rotate_parse("1d", &r, err, sizeof(err)), 0);
    assert_true(r.every_ms == 24 * HOUR);
    assert_int_equal(mc_rotate_parse("100M", &r, err, sizeof(err)), 0);
    assert_true(r.max_bytes == 100ull << 20 && r.every_ms == 0);
    assert_int_equal(mc_rotate_parse("500k", &r, err, sizeof(err)), 0);
    assert_true(r.max_bytes == 500 * 1024ull);
    assert_int_equal(mc_rotate_parse("1h,1G", &r, err, sizeof(err)), 0);
    assert_true(r.every_ms == HOUR && r.max_bytes == 1ull << 30);
    assert_int_equal(mc_rotate_parse("2K,90s", &r, err, sizeof(err)), 0);
    assert_true(r.every_ms == 90000 && r.max_bytes == 2048);
    static const char *bad[] = { "", "1", "h", "1x", "0h", "-1h", "1h,", ",1h", "1h 1M", "1hh", "1.5h",
                                 "99999999999999999999h", "18014398509481984G" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(mc_rotate_parse(bad[i], &r, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "expected an interval"));
    }
    assert_int_equal(mc_rotate_parse("1h,2h", &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "at most"));
    assert_int_equal(mc_rotate_parse("1M,1M", &r, err, sizeof(err)), -1);
}

static void write_line(FILE *f, int i)
{
    fprintf(f, "{\"record\":%04d,\"pad\":\"0123456789\"}\n", i); /* 35 bytes */
}

static void test_size(void **state)
{
    (void)state;
    char err[256];
    struct mc_rotate rot = { 0, 100 };
    const char *path = in_dir("size.json");
    struct mc_rotfile *rf = mc_rotfile_open(path, 0, &rot, err, sizeof(err));
    assert_non_null(rf);
    FILE *f = mc_rotfile_stream(rf);
    assert_int_equal(mc_rotfile_check(rf, T_1430, err, sizeof(err)), 0); /* empty: never rotated */
    int rotations = 0;
    for (int i = 0; i < 10; i++) {
        int rc = mc_rotfile_check(rf, T_1430, err, sizeof(err));
        assert_int_not_equal(rc, -1);
        if (rc == 1) {
            rotations++;
            assert_ptr_equal(mc_rotfile_stream(rf), f); /* writers keep their pointer */
        }
        write_line(f, i);
        assert_int_equal(mc_rotfile_size(rf), (uint64_t)(35 * (i % 3 + 1))); /* buffered bytes count */
    }
    /* 35-byte lines, 100 bytes: a file rotates once it holds 3 lines (105 bytes) */
    assert_int_equal(rotations, 3);
    assert_int_equal(mc_rotfile_close(rf), 0);
    const char *names[] = { "size.json.20261203T143000Z", "size.json.20261203T143000Z.1",
                            "size.json.20261203T143000Z.2", "size.json" };
    char all[2048] = "";
    for (int i = 0; i < 4; i++) {
        const char *text = slurp(in_dir(names[i]));
        assert_non_null(text);
        assert_int_equal(strlen(text), i < 3 ? 105 : 35);
        assert_int_equal(text[strlen(text) - 1], '\n');
        strncat(all, text, sizeof(all) - strlen(all) - 1);
    }
    char want[2048] = "";
    FILE *m = fmemopen(want, sizeof(want), "w");
    for (int i = 0; i < 10; i++)
        write_line(m, i);
    fclose(m);
    assert_string_equal(all, want); /* every line once, in order */
}

static void test_time(void **state)
{
    (void)state;
    char err[256];
    struct mc_rotate rot = { HOUR, 0 };
    const char *path = in_dir("time.json");
    struct mc_rotfile *rf = mc_rotfile_open(path, 0, &rot, err, sizeof(err));
    assert_non_null(rf);
    FILE *f = mc_rotfile_stream(rf);
    assert_int_equal(mc_rotfile_check(rf, 0, err, sizeof(err)), 0); /* clock not known yet */
    assert_int_equal(mc_rotfile_check(rf, T_1430, err, sizeof(err)), 0);
    write_line(f, 1);
    assert_int_equal(mc_rotfile_check(rf, T_1430 + HOUR / 2 - 1, err, sizeof(err)), 0); /* 14:59:59.999 */
    write_line(f, 2);
    assert_int_equal(mc_rotfile_check(rf, T_1430 + HOUR / 2, err, sizeof(err)), 1); /* 15:00 */
    assert_string_equal(mc_rotfile_last_name(rf), in_dir("time.json.20261203T150000Z"));
    write_line(f, 3);
    /* a quiet spell over several boundaries: the file is named by the first one it did not reach */
    assert_int_equal(mc_rotfile_check(rf, T_1430 + 4 * HOUR, err, sizeof(err)), 1); /* 18:30 */
    assert_string_equal(mc_rotfile_last_name(rf), in_dir("time.json.20261203T160000Z"));
    /* an empty file is not rotated: the boundary passes and nothing is renamed */
    assert_int_equal(mc_rotfile_check(rf, T_1430 + 5 * HOUR, err, sizeof(err)), 0); /* 19:30 */
    write_line(f, 4);
    assert_int_equal(mc_rotfile_close(rf), 0);
    assert_int_equal(file_size(in_dir("time.json.20261203T150000Z")), 70);
    assert_int_equal(file_size(in_dir("time.json.20261203T160000Z")), 35);
    assert_int_equal(file_size(in_dir("time.json.20261203T190000Z")), -1);
    assert_int_equal(file_size(path), 35);
    assert_non_null(strstr(slurp(path), "\"record\":0004"));
}

static void test_no_replace_and_failure(void **state)
{
    (void)state;
    char err[256];
    struct mc_rotate rot = { 0, 35 };
    const char *path = in_dir("c.json");
    FILE *other = fopen(in_dir("c.json.20261203T143000Z"), "w");
    fputs("someone else's\n", other);
    fclose(other);
    struct mc_rotfile *rf = mc_rotfile_open(path, 0, &rot, err, sizeof(err));
    assert_non_null(rf);
    write_line(mc_rotfile_stream(rf), 1);
    assert_int_equal(mc_rotfile_check(rf, T_1430, err, sizeof(err)), 1);
    assert_string_equal(mc_rotfile_last_name(rf), in_dir("c.json.20261203T143000Z.1"));
    assert_string_equal(slurp(in_dir("c.json.20261203T143000Z")), "someone else's\n");
    /* removed behind its back: nothing to rename, the name is started again */
    write_line(mc_rotfile_stream(rf), 2);
    fflush(mc_rotfile_stream(rf));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mc_rotfile_check(rf, T_1430, err, sizeof(err)), 1);
    assert_string_equal(mc_rotfile_last_name(rf), "");
    write_line(mc_rotfile_stream(rf), 3);
    assert_int_equal(mc_rotfile_close(rf), 0);
    assert_non_null(strstr(slurp(path), "\"record\":0003"));

    /* a rename that fails (the new name is too long for the file system): the old file goes on */
    char longname[260];
    memset(longname, 'x', 250);
    longname[250] = 0;
    const char *lpath = in_dir(longname);
    struct mc_rotate rot100 = { 0, 100 };
    rf = mc_rotfile_open(lpath, 0, &rot100, err, sizeof(err));
    assert_non_null(rf);
    for (int i = 1; i <= 3; i++)
        write_line(mc_rotfile_stream(rf), i);
    err[0] = 0;
    assert_int_equal(mc_rotfile_check(rf, T_1430, err, sizeof(err)), -1); /* 105 bytes */
    assert_non_null(strstr(err, "cannot rename"));
    /* the next try comes once the file has grown by 100 bytes more, not at every line */
    for (int i = 4; i <= 5; i++) {
        write_line(mc_rotfile_stream(rf), i);
        assert_int_equal(mc_rotfile_check(rf, T_1430, err, sizeof(err)), 0);
    }
    write_line(mc_rotfile_stream(rf), 6);
    assert_int_equal(mc_rotfile_check(rf, T_1430, err, sizeof(err)), -1); /* 210 bytes */
    assert_int_equal(mc_rotfile_close(rf), 0);
    assert_int_equal(file_size(lpath), 210); /* every line, in the file it had */
}

static void test_reopen_and_append(void **state)
{
    (void)state;
    char err[256];
    const char *path = in_dir("r.json"), *moved = in_dir("r.json.1");
    struct mc_rotfile *rf = mc_rotfile_open(path, 0, NULL, err, sizeof(err));
    assert_non_null(rf);
    write_line(mc_rotfile_stream(rf), 1);
    assert_int_equal(rename(path, moved), 0); /* logrotate */
    write_line(mc_rotfile_stream(rf), 2);
    assert_int_equal(mc_rotfile_reopen(rf, err, sizeof(err)), 0);
    assert_int_equal(mc_rotfile_size(rf), 0);
    write_line(mc_rotfile_stream(rf), 3);
    assert_int_equal(mc_rotfile_check(rf, T_1430, err, sizeof(err)), 0); /* no rotation asked */
    assert_int_equal(mc_rotfile_close(rf), 0);
    assert_int_equal(file_size(moved), 70);
    assert_int_equal(file_size(path), 35);
    /* appending: what is there counts toward the size */
    rf = mc_rotfile_open(path, 1, NULL, err, sizeof(err));
    assert_non_null(rf);
    assert_int_equal(mc_rotfile_size(rf), 35);
    assert_int_equal(mc_rotfile_close(rf), 0);
    assert_null(mc_rotfile_open(in_dir("no/such/dir"), 0, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(mc_rotfile_close(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test_setup_teardown(test_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_replace_and_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_and_append, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
