/* test_options.c - option table: argv, config file, precedence, errors, help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/options.h"

struct conf {
    char name[64];
    unsigned long long n;
    int flag, count;
};

static int set_name(void *c, const char *arg, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    snprintf(((struct conf *)c)->name, 64, "%s", arg);
    ((struct conf *)c)->count++;
    return 0;
}
static int set_n(void *c, const char *arg, char *err, size_t errlen)
{
    if (mc_opt_uint(arg, 1, 100, &((struct conf *)c)->n) != 0) {
        snprintf(err, errlen, "expected 1..100");
        return -1;
    }
    return 0;
}
static int set_flag(void *c, const char *arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    ((struct conf *)c)->flag = 1;
    return 0;
}
static int set_cfg(void *c, const char *arg, char *err, size_t errlen)
{
    (void)c, (void)arg, (void)err, (void)errlen;
    return 0;
}

static const struct mc_opt opts[] = {
    { "name", 'i', "NAME", NULL, "A name.", set_name, 1, "A" },
    { "number", 'd', "N", "30", "A number.", set_n, 0, "A" },
    { "flag", 0, NULL, NULL, "A flag.", set_flag, 0, "B" },
    { "config", 'c', "FILE", NULL, "Config.", set_cfg, 0, "B" },
};

static int parse(struct conf *c, int argc, const char **argv, char *err)
{
    memset(c, 0, sizeof(*c));
    return mc_opt_parse(opts, 4, c, argc, (char **)argv, err, 256);
}

static void test_argv(void **state)
{
    (void)state;
    struct conf c;
    char err[256];
    const char *a[] = { "p", "-i", "eth0", "--number=12", "--flag", NULL };
    assert_int_equal(parse(&c, 5, a, err), 0);
    assert_string_equal(c.name, "eth0");
    assert_int_equal(c.n, 12);
    assert_int_equal(c.flag, 1);
}

static void test_errors(void **state)
{
    (void)state;
    struct conf c;
    char err[256];
    const char *bad_num[] = { "p", "-d", "1000", NULL };
    assert_int_equal(parse(&c, 3, bad_num, err), -1);
    assert_non_null(strstr(err, "--number"));
    const char *unknown[] = { "p", "--nope", NULL };
    assert_int_equal(parse(&c, 2, unknown, err), -1);
    const char *missing[] = { "p", "-i", NULL };
    assert_int_equal(parse(&c, 2, missing, err), -1);
    const char *extra[] = { "p", "stray", NULL };
    assert_int_equal(parse(&c, 2, extra, err), -1);
}

static void test_config_file_then_argv(void **state)
{
    (void)state;
    char path[] = "/tmp/mc_opt_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# comment\nname = from-file\n--number=7\nflag\n\n");
    fclose(f);
    struct conf c;
    char err[256];
    const char *a[] = { "p", "-c", path, "-d", "9", NULL };
    assert_int_equal(parse(&c, 5, a, err), 0);
    assert_string_equal(c.name, "from-file");
    assert_int_equal(c.n, 9); /* command line wins */
    assert_int_equal(c.flag, 1);
    f = fopen(path, "w");
    fprintf(f, "bogus 1\n");
    fclose(f);
    assert_int_equal(parse(&c, 3, a, err), -1);
    assert_non_null(strstr(err, ":1: unknown option"));
    remove(path);
}

static void test_help_and_config_list_every_option(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mc_opt_help(f, "p [options]", "About.", opts, 4);
    fclose(f);
    for (int i = 0; i < 4; i++)
        assert_non_null(strstr(buf, opts[i].name));
    assert_non_null(strstr(buf, "(default: 30)"));
    free(buf);
    f = open_memstream(&buf, &len);
    mc_opt_write_config(f, "p", opts, 4);
    fclose(f);
    assert_non_null(strstr(buf, "# number 30"));
    assert_non_null(strstr(buf, "# flag"));
    free(buf);
}

static void test_keep_and_items(void **state)
{
    (void)state;
    char src[] = "a,,b,c";
    char *rest = mc_opt_keep(src);
    src[0] = 'x'; /* the copy is the option's own */
    const char *want[] = { "a", "b", "c" };
    size_t n = 0;
    for (char *tok = mc_opt_next_item(&rest); tok; tok = mc_opt_next_item(&rest), n++) {
        assert_true(n < 3);
        assert_string_equal(tok, want[n]);
    }
    assert_int_equal(n, 3);
    rest = mc_opt_keep(",,");
    assert_null(mc_opt_next_item(&rest));
    mc_opt_release_kept(); /* every copy freed (ASan's leak check) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argv),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_config_file_then_argv),
        cmocka_unit_test(test_keep_and_items),
        cmocka_unit_test(test_help_and_config_list_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
