/*
 * sources.c - the files a run reads (sources.h).  A directory is read flat:
 * capture directories (tcpdump -G/-C, dumpcap ring buffers) are flat, and
 * descending would pick up whatever else lives below.  Captures are told by
 * their magic number, not their name: rotated files are often named
 * file.pcap1, file_00001_20261203150000 or have no extension at all.
 */
#include "probe/sources.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/capture.h"
#include "common/log.h"

#define NOTES_PER_DIR 10 /* skipped entries named one by one; past this, a count */

int mc_probe_sources_are_files(const char *const *sources, int n)
{
    struct stat st;
    for (int i = 0; i < n; i++)
        if (stat(sources[i], &st) == 0 || mc_capture_is_path(sources[i]))
            return 1;
    return 0;
}

static int add(struct mc_probe_files *out, const char *path, const char *why)
{
    if (out->n == out->cap) {
        int cap = out->cap ? out->cap * 2 : 16;
        char **p = realloc(out->path, (size_t)cap * sizeof(*p));
        if (p)
            out->path = p;
        char **w = p ? realloc(out->why, (size_t)cap * sizeof(*w)) : NULL;
        if (!w)
            return -1;
        out->why = w;
        out->cap = cap;
    }
    char *pcopy = strdup(path), *wcopy = why ? strdup(why) : NULL;
    if (!pcopy || (why && !wcopy)) {
        free(pcopy);
        free(wcopy);
        return -1;
    }
    out->path[out->n] = pcopy;
    out->why[out->n++] = wcopy;
    return 0;
}

/* pcap (microsecond, nanosecond, Kuznetzov's modified) in either byte order, or a pcapng section. */
static int capture_magic(const char *path)
{
    uint8_t b[4];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, b, sizeof(b));
    close(fd);
    if (n != (ssize_t)sizeof(b))
        return 0;
    uint32_t be = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    uint32_t le = (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
    static const uint32_t magic[] = { 0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34, 0x0a0d0d0a };
    for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
        if (be == magic[i] || le == magic[i])
            return 1;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void skipped(const char *path, const char *why, int *notes)
{
    MC_CTR_INC(capture, dir_entries_skipped);
    if ((*notes)++ < NOTES_PER_DIR)
        mc_info("%s: skipped: %s", path, why);
}

static int expand_dir(struct mc_probe_files *out, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        char why[256];
        snprintf(why, sizeof(why), "cannot list the directory: %s", strerror(errno));
        return add(out, dir, why);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown) {
                rc = -1;
                break;
            }
            names = grown;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), by_name);
    size_t dlen = strlen(dir);
    const char *sep = dlen && dir[dlen - 1] == '/' ? "" : "/";
    int found = 0, notes = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t len = dlen + strlen(names[i]) + 2;
        char *path = malloc(len);
        if (!path) {
            rc = -1;
            break;
        }
        snprintf(path, len, "%s%s%s", dir, sep, names[i]);
        struct stat st;
        if (names[i][0] == '.') {
            skipped(path, "a hidden file", &notes);
        } else if (stat(path, &st) != 0) {
            skipped(path, strerror(errno), &notes); /* a dangling link, or gone meanwhile */
        } else if (S_ISDIR(st.st_mode)) {
            skipped(path, "a directory (-i DIR reads only the files directly in it)", &notes);
        } else if (!S_ISREG(st.st_mode)) {
            skipped(path, "not a regular file", &notes);
        } else {
            int m = capture_magic(path);
            if (m == 0) {
                skipped(path, "not a pcap or pcapng file", &notes);
            } else {
                /* unreadable (m < 0): kept, so that opening it says why and counts it like a missing file */
                rc = add(out, path, NULL);
                found++;
            }
        }
        free(path);
    }
    if (notes > NOTES_PER_DIR)
        mc_info("%s: %d more entries skipped", dir, notes - NOTES_PER_DIR);
    if (rc == 0 && !found)
        mc_warn("%s: no pcap or pcapng file in this directory", dir);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int mc_probe_files_expand(struct mc_probe_files *out, const char *const *sources, int n)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < n; i++) {
        struct stat st;
        int rc = stat(sources[i], &st) == 0 && S_ISDIR(st.st_mode) ? expand_dir(out, sources[i])
                                                                     : add(out, sources[i], NULL);
        if (rc != 0)
            return -1;
    }
    return 0;
}

void mc_probe_files_free(struct mc_probe_files *files)
{
    for (int i = 0; i < files->n; i++) {
        free(files->path[i]);
        free(files->why[i]);
    }
    free(files->path);
    free(files->why);
    memset(files, 0, sizeof(*files));
}
