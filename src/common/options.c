/* options.c - getopt_long, config file, --help and example config from one table. */
#include "common/options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTS 128

int mc_opt_uint(const char *arg, unsigned long long min, unsigned long long max, unsigned long long *out)
{
    if (!arg || !*arg || !isdigit((unsigned char)*arg))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static const struct mc_opt *find_long(const struct mc_opt *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

static int apply(const struct mc_opt *o, void *conf, const char *arg, char *err, size_t errlen)
{
    char e[256] = "";
    if (o->set(conf, arg, e, sizeof(e)) != 0) {
        /* a long value is cut so that the reason, after it, still fits */
        int cut = arg && strlen(arg) > 120;
        snprintf(err, errlen, "--%s%s%.*s%s: %s", o->name, arg ? " " : "", cut ? 100 : 120, arg ? arg : "",
                 cut ? "..." : "", e[0] ? e : "invalid value");
        return -1;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

int mc_opt_parse_file(const struct mc_opt *opts, size_t n, void *conf, const char *path, char *err,
                      size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (!*s)
            continue;
        while (*s == '-')
            s++;
        size_t klen = strcspn(s, " \t=");
        char *v = s + klen;
        while (*v == ' ' || *v == '\t' || *v == '=')
            v++;
        v = trim(v);
        const struct mc_opt *o = find_long(opts, n, s, klen);
        if (!o) {
            snprintf(err, errlen, "%s:%d: unknown option \"%.*s\"", path, lineno, (int)klen, s);
            rc = -1;
            break;
        }
        if (o->argname && !*v) {
            snprintf(err, errlen, "%s:%d: option \"%s\" needs a value (%s)", path, lineno, o->name, o->argname);
            rc = -1;
            break;
        }
        if (!o->argname && *v && strcmp(v, "yes") != 0 && strcmp(v, "true") != 0 && strcmp(v, "1") != 0) {
            if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
                continue;
            snprintf(err, errlen, "%s:%d: option \"%s\" takes no value", path, lineno, o->name);
            rc = -1;
            break;
        }
        char e[512];
        if (apply(o, conf, o->argname ? v : NULL, e, sizeof(e)) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, e);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

int mc_opt_parse(const struct mc_opt *opts, size_t n, void *conf, int argc, char **argv, char *err,
                 size_t errlen)
{
    struct option lo[MAX_OPTS + 1];
    char shorts[MAX_OPTS * 2 + 2];
    size_t si = 0;
    if (n > MAX_OPTS) {
        snprintf(err, errlen, "too many options");
        return -1;
    }
    shorts[si++] = ':';
    for (size_t i = 0; i < n; i++) {
        lo[i].name = opts[i].name;
        lo[i].has_arg = opts[i].argname ? required_argument : no_argument;
        lo[i].flag = NULL;
        lo[i].val = 256 + (int)i;
        if (opts[i].short_name) {
            shorts[si++] = (char)opts[i].short_name;
            if (opts[i].argname)
                shorts[si++] = ':';
        }
    }
    memset(&lo[n], 0, sizeof(lo[n]));
    shorts[si] = 0;

    /* The config file is read first so the command line overrides it. */
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        if (path && mc_opt_parse_file(opts, n, conf, path, err, errlen) != 0)
            return -1;
    }

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        const struct mc_opt *o = NULL;
        if (c >= 256) {
            o = &opts[c - 256];
        } else if (c == '?') {
            if (optopt)
                snprintf(err, errlen, "unknown option -%c", optopt);
            else
                snprintf(err, errlen, "unknown option %s", argv[optind - 1]);
            return -1;
        } else if (c == ':') {
            snprintf(err, errlen, "option %s needs a value", argv[optind - 1]);
            return -1;
        } else {
            for (size_t i = 0; i < n; i++)
                if (opts[i].short_name == c)
                    o = &opts[i];
        }
        if (!o)
            continue;
        if (strcmp(o->name, "config") == 0)
            continue; /* already read */
        if (apply(o, conf, o->argname ? optarg : NULL, err, errlen) != 0)
            return -1;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]);
        return -1;
    }
    return 0;
}

/* Prints text wrapped at 78 columns, each line prefixed. */
static void wrap(FILE *out, const char *prefix, const char *text)
{
    size_t col = 0, plen = strlen(prefix);
    const char *p = text;
    fputs(prefix, out);
    col = plen;
    while (*p) {
        size_t w = strcspn(p, " ");
        if (col > plen && col + 1 + w > 78) {
            fputc('\n', out);
            fputs(prefix, out);
            col = plen;
        } else if (col > plen) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, w, out);
        col += w;
        p += w;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

void mc_opt_help(FILE *out, const char *usage, const char *about, const struct mc_opt *opts, size_t n)
{
    fprintf(out, "Usage: %s\n\n", usage);
    wrap(out, "", about);
    const char *section = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct mc_opt *o = &opts[i];
        if (o->section && (!section || strcmp(section, o->section) != 0)) {
            section = o->section;
            fprintf(out, "\n%s:\n", section);
        }
        char head[128];
        if (o->short_name)
            snprintf(head, sizeof(head), "  -%c, --%s%s%s", o->short_name, o->name, o->argname ? " " : "",
                     o->argname ? o->argname : "");
        else
            snprintf(head, sizeof(head), "      --%s%s%s", o->name, o->argname ? " " : "",
                     o->argname ? o->argname : "");
        fprintf(out, "%s\n", head);
        char text[1024];
        snprintf(text, sizeof(text), "%s%s%s%s%s", o->help, o->defval ? " (default: " : "",
                 o->defval ? o->defval : "", o->defval ? ")" : "", o->repeatable ? " May be repeated." : "");
        wrap(out, "          ", text);
    }
}

void mc_opt_write_config(FILE *out, const char *prog, const struct mc_opt *opts, size_t n)
{
    fprintf(out, "# %s configuration file.\n", prog);
    fprintf(out, "# One option per line: \"name value\" (or name = value); a flag alone is set.\n");
    fprintf(out, "# Names are the long options of %s --help; the command line overrides this file.\n", prog);
    const char *section = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct mc_opt *o = &opts[i];
        if (strcmp(o->name, "config") == 0 || strcmp(o->name, "help") == 0 || strcmp(o->name, "version") == 0 ||
            strcmp(o->name, "dump-config") == 0 || strcmp(o->name, "list-fields") == 0)
            continue;
        if (o->section && (!section || strcmp(section, o->section) != 0)) {
            section = o->section;
            fprintf(out, "\n##### %s #####\n", section);
        }
        fputc('\n', out);
        char text[1024];
        snprintf(text, sizeof(text), "%s%s", o->help, o->repeatable ? " May be repeated." : "");
        wrap(out, "# ", text);
        if (o->argname)
            fprintf(out, "# %s %s\n", o->name, o->defval ? o->defval : o->argname);
        else
            fprintf(out, "# %s\n", o->name);
    }
}

static char **kept;
static size_t n_kept, kept_cap;

char *mc_opt_keep(const char *s)
{
    if (n_kept == kept_cap) {
        size_t cap = kept_cap ? kept_cap * 2 : 32;
        char **grown = realloc(kept, cap * sizeof(*kept));
        if (!grown) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        kept = grown;
        kept_cap = cap;
    }
    char *d = strdup(s);
    if (!d) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    kept[n_kept++] = d;
    return d;
}

void mc_opt_release_kept(void)
{
    for (size_t i = 0; i < n_kept; i++)
        free(kept[i]);
    free(kept);
    kept = NULL;
    n_kept = kept_cap = 0;
}

char *mc_opt_next_item(char **cursor)
{
    char *s = *cursor;
    while (s && *s == ',')
        s++;
    if (!s || !*s)
        return NULL;
    char *comma = strchr(s, ',');
    if (comma) {
        *comma = 0;
        *cursor = comma + 1;
    } else {
        *cursor = NULL;
    }
    return s;
}
