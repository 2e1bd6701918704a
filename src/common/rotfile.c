/*
 * rotfile.c - a line-oriented output file that can be rotated (rotfile.h).
 *
 * The FILE writers see is an fopencookie stream over a descriptor this file
 * owns: its write function counts the bytes that reach the file, and
 * __fpending gives those still buffered, so the size is exact and costs no
 * system call (ftell on an append stream is an lseek each time).  Rotating
 * flushes the stream into the old descriptor, renames the file without ever
 * replacing another (renameat2 RENAME_NOREPLACE), opens the name again and
 * swaps the descriptor under the stream.
 */
#include "common/rotfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STREAM_BUFFER (16 * 1024) /* a few records: lines reach the file soon enough when capturing */
#define MAX_SEQ 100000 /* PATH.STAMP.N: files rotated within one second (tiny sizes, fast reads) */

struct mc_rotfile {
    FILE *f;            /* the cookie stream over fd */
    int fd;             /* owned: the current file */
    char *path;         /* owned */
    struct mc_rotate rot;
    uint64_t size;      /* bytes written to fd's file (and found in it at open) */
    uint64_t size_limit; /* rotate at this size: max_bytes, more after a failure */
    uint64_t next_ms;   /* the next time boundary, 0 until the clock is known */
    char *buf;          /* owned: f's buffer */
    char *last;         /* owned: the name the last rotation gave, path_len + 48 bytes */
    size_t last_cap;
    uint64_t last_sec;  /* that name's stamp, and its sequence number: the next collision starts after it */
    unsigned last_seq;
};

int mc_rotate_parse(const char *spec, struct mc_rotate *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    const char *s = spec;
    while (*s) {
        if (*s < '0' || *s > '9')
            goto bad;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        uint64_t mult;
        uint64_t *field;
        switch (*end) {
        case 's': mult = 1000, field = &r->every_ms; break;
        case 'm': mult = 60 * 1000, field = &r->every_ms; break;
        case 'h': mult = 3600 * 1000, field = &r->every_ms; break;
        case 'd': mult = 86400 * 1000, field = &r->every_ms; break;
        case 'k':
        case 'K': mult = 1024, field = &r->max_bytes; break;
        case 'M': mult = 1024 * 1024, field = &r->max_bytes; break;
        case 'G': mult = 1024 * 1024 * 1024, field = &r->max_bytes; break;
        default: goto bad;
        }
        if (errno || v == 0 || v > UINT64_MAX / mult)
            goto bad;
        if (*field) {
            snprintf(err, errlen, "'%s': one interval and one size at most", spec);
            return -1;
        }
        *field = v * mult;
        s = end + 1;
        if (*s == ',' && s[1])
            s++;
        else if (*s)
            goto bad;
    }
    if (r->every_ms || r->max_bytes)
        return 0;
bad:
    snprintf(err, errlen, "'%s': expected an interval (90s, 30m, 1h, 1d) and/or a size (500k, 100M, 1G), "
             "comma-separated", spec);
    return -1;
}

static ssize_t cookie_write(void *cookie, const char *buf, size_t n)
{
    struct mc_rotfile *rf = cookie;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(rf->fd, buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    rf->size += done;
    return (ssize_t)done; /* short: stdio marks the stream in error, the writers count it */
}

static int cookie_close(void *cookie)
{
    struct mc_rotfile *rf = cookie;
    int rc = close(rf->fd);
    rf->fd = -1;
    return rc;
}

static int open_path(const char *path, int append)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (append ? 0 : O_TRUNC), 0666);
}

/* fd becomes the current file; the old one is closed (its lines were flushed before). */
static void swap_fd(struct mc_rotfile *rf, int fd)
{
    struct stat st;
    close(rf->fd);
    rf->fd = fd;
    rf->size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    rf->size_limit = rf->rot.max_bytes;
}

struct mc_rotfile *mc_rotfile_open(const char *path, int append, const struct mc_rotate *rot, char *err,
                                   size_t errlen)
{
    struct mc_rotfile *rf = calloc(1, sizeof(*rf));
    size_t len = strlen(path);
    if (!rf || !(rf->path = strdup(path)) || !(rf->buf = malloc(STREAM_BUFFER)) ||
        !(rf->last = calloc(1, len + 48))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    rf->last_cap = len + 48;
    if (rot)
        rf->rot = *rot;
    rf->fd = open_path(path, append);
    if (rf->fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        goto fail;
    }
    struct stat st; /* what is there: nothing, or the file appended to */
    rf->size = fstat(rf->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    rf->size_limit = rf->rot.max_bytes;
    cookie_io_functions_t io = { NULL, cookie_write, NULL, cookie_close };
    rf->f = fopencookie(rf, "w", io);
    if (!rf->f) {
        snprintf(err, errlen, "out of memory");
        close(rf->fd);
        goto fail;
    }
    setvbuf(rf->f, rf->buf, _IOFBF, STREAM_BUFFER);
    return rf;
fail:
    if (rf) {
        free(rf->path);
        free(rf->buf);
        free(rf->last);
        free(rf);
    }
    return NULL;
}

FILE *mc_rotfile_stream(const struct mc_rotfile *rf) { return rf->f; }
const char *mc_rotfile_last_name(const struct mc_rotfile *rf) { return rf->last; }

uint64_t mc_rotfile_size(const struct mc_rotfile *rf)
{
    return rf->size + __fpending(rf->f);
}

/* rename(2) that never replaces a file of the new name. */
static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* a file system without RENAME_NOREPLACE: look first (racy only against another writer of these names) */
    struct stat st;
    if (lstat(to, &st) == 0) {
        errno = EEXIST;
        return -1;
    }
    return rename(from, to);
}

static int rotate(struct mc_rotfile *rf, uint64_t stamp_ms, char *err, size_t errlen)
{
    if (fflush(rf->f) != 0)
        clearerr(rf->f); /* the lines it held were counted as errors by their writers */
    char ts[32];
    time_t t = (time_t)(stamp_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    unsigned seq = (uint64_t)t == rf->last_sec && rf->last[0] ? rf->last_seq + 1 : 0;
    int rc;
    for (;; seq++) {
        if (seq)
            snprintf(rf->last, rf->last_cap, "%s.%s.%u", rf->path, ts, seq);
        else
            snprintf(rf->last, rf->last_cap, "%s.%s", rf->path, ts);
        rc = rename_noreplace(rf->path, rf->last);
        if (rc == 0 || errno != EEXIST || seq >= MAX_SEQ)
            break;
    }
    if (rc != 0 && errno == ENOENT) {
        /* renamed or removed behind our back: nothing to rename, only the name to start again */
        rf->last[0] = 0;
    } else if (rc != 0) {
        snprintf(err, errlen, "cannot rename '%s' to '%s': %s", rf->path, rf->last, strerror(errno));
        rf->last[0] = 0;
        return -1;
    }
    rf->last_sec = (uint64_t)t;
    rf->last_seq = seq;
    int fd = open_path(rf->path, 1);
    if (fd < 0) {
        int e = errno;
        /* put the old file back under its name if we renamed it; if that fails too, it goes on there */
        int back = rf->last[0] && rename_noreplace(rf->last, rf->path) == 0;
        snprintf(err, errlen, "cannot start '%s' again: %s (still writing to '%s')", rf->path, strerror(e),
                 back || !rf->last[0] ? rf->path : rf->last);
        rf->last[0] = 0;
        return -1;
    }
    swap_fd(rf, fd);
    return 1;
}

int mc_rotfile_check(struct mc_rotfile *rf, uint64_t now_ms, char *err, size_t errlen)
{
    uint64_t stamp = 0;
    if (rf->rot.every_ms && now_ms) {
        uint64_t next = (now_ms / rf->rot.every_ms + 1) * rf->rot.every_ms;
        if (!rf->next_ms) {
            rf->next_ms = next; /* the clock starts: the file covers the interval it is in */
        } else if (now_ms >= rf->next_ms) {
            stamp = rf->next_ms;
            rf->next_ms = next;
        }
    }
    uint64_t size = mc_rotfile_size(rf);
    if (!stamp && rf->rot.max_bytes && size >= rf->size_limit)
        stamp = now_ms ? now_ms : (uint64_t)time(NULL) * 1000;
    if (!stamp || size == 0)
        return 0;
    int rc = rotate(rf, stamp, err, errlen);
    if (rc < 0)
        rf->size_limit = size + rf->rot.max_bytes;
    return rc;
}

int mc_rotfile_reopen(struct mc_rotfile *rf, char *err, size_t errlen)
{
    /* the new file first: if it cannot be opened, lines keep going to the old one */
    int fd = open_path(rf->path, 1);
    if (fd < 0) {
        snprintf(err, errlen, "'%s': %s (still writing to the file it had)", rf->path, strerror(errno));
        return -1;
    }
    if (fflush(rf->f) != 0)
        clearerr(rf->f);
    swap_fd(rf, fd);
    return 0;
}

int mc_rotfile_close(struct mc_rotfile *rf)
{
    if (!rf)
        return 0;
    int rc = fclose(rf->f); /* flushes into fd, then cookie_close closes it */
    free(rf->buf);
    free(rf->path);
    free(rf->last);
    free(rf);
    return rc == 0 ? 0 : -1;
}
