/*
 * options.h - one option table drives getopt_long, --help, the config file
 * and the example config, so the four cannot drift apart.
 *
 * Config file syntax: one option per line, "name value", "name = value" or
 * "--name=value"; a flag alone on its line is set; '#' starts a comment.
 * Names are the long option names.  Command-line options are applied after
 * the file, so they override it (repeatable options accumulate).
 */
#ifndef MC_COMMON_OPTIONS_H
#define MC_COMMON_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

/* Applies one option value to conf (arg is NULL for flags). Returns 0, or -1 with err set. */
typedef int (*mc_opt_set_fn)(void *conf, const char *arg, char *err, size_t errlen);

struct mc_opt {
    const char *name;     /* long name, also the config-file key */
    int short_name;       /* 0 when none */
    const char *argname;  /* NULL for flags, else e.g. "HOST:PORT" */
    const char *defval;   /* default shown by --help and the example config, NULL when none */
    const char *help;     /* one paragraph; wrapped by --help */
    mc_opt_set_fn set;
    int repeatable;
    const char *section;  /* heading under which --help lists it */
};

/*
 * Parses argv (and the config file named by --config/-c, read first).
 * Returns 0, or -1 with a message in err.  optind-style leftovers are errors.
 */
int mc_opt_parse(const struct mc_opt *opts, size_t n, void *conf, int argc, char **argv, char *err,
                 size_t errlen);

/* Parses a config file; 0 or -1 with err ("FILE:LINE: ..."). */
int mc_opt_parse_file(const struct mc_opt *opts, size_t n, void *conf, const char *path, char *err,
                      size_t errlen);

/* Prints --help: usage line, then every option by section. */
void mc_opt_help(FILE *out, const char *usage, const char *about, const struct mc_opt *opts, size_t n);

/* Prints an example config file documenting every option, all commented out. */
void mc_opt_write_config(FILE *out, const char *prog, const struct mc_opt *opts, size_t n);

/*
 * Option strings must outlive parsing (config-file lines are reused): a
 * setter keeps a copy with mc_opt_keep (exits on out of memory, at start);
 * the program frees every copy once, with mc_opt_release_kept, when its
 * configuration is released.
 */
char *mc_opt_keep(const char *s);
void mc_opt_release_kept(void);

/* Splits a kept copy at commas, in place: the next item, or NULL (empty items skipped). */
char *mc_opt_next_item(char **cursor);

/* Helpers for option setters: strict numbers in [min, max]. */
int mc_opt_uint(const char *arg, unsigned long long min, unsigned long long max, unsigned long long *out);

#endif
