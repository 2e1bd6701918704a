/*
 * rotfile.h - an output file of lines (JSON Lines) that is rotated by time
 * and/or size and reopened by its name on request (SIGHUP, logrotate).
 *
 * Rotation renames the current file PATH to PATH.YYYYMMDDTHHMMSSZ (UTC;
 * ".1", ".2", ... added rather than replace a file of that name) and starts
 * PATH again.  The stream handed out stays the same FILE for the whole run:
 * only the descriptor under it changes (fopencookie), so writers keep their
 * pointer, and the size is known without a system call.  Rotation happens
 * only when the owner asks, between two lines and after a flush, so no line
 * is ever split between two files or lost.
 */
#ifndef MC_COMMON_ROTFILE_H
#define MC_COMMON_ROTFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* When to rotate; all zero: never. */
struct mc_rotate {
    uint64_t every_ms;  /* at each multiple of this since the epoch (1h: on the hour, 1d: midnight UTC) */
    uint64_t max_bytes; /* once the file holds this many bytes */
};

/*
 * Parses "1h", "30m", "1d", "90s" (an interval), "100M", "1G", "500k" (a
 * size: k, M, G are powers of 1024) or both, comma-separated ("1h,100M").
 * 0, or -1 with a message in err.
 */
int mc_rotate_parse(const char *spec, struct mc_rotate *r, char *err, size_t errlen);

struct mc_rotfile;

/*
 * Opens path for writing (truncated, or appended to with append set).  rot
 * may be NULL (no rotation).  Returns NULL with strerror's text in err.
 */
struct mc_rotfile *mc_rotfile_open(const char *path, int append, const struct mc_rotate *rot, char *err,
                                   size_t errlen);

/* The stream to write lines to: the same for the whole life of rf. */
FILE *mc_rotfile_stream(const struct mc_rotfile *rf);

/* Bytes in the current file, buffered ones included. */
uint64_t mc_rotfile_size(const struct mc_rotfile *rf);

/*
 * Call between two lines, with the caller's clock (epoch milliseconds; 0:
 * not known yet).  Rotates when a multiple of every_ms has passed since the
 * file was started or its size reached max_bytes; a file without a byte is
 * never rotated.  The name the old file took is stamped with the interval
 * boundary (time) or now_ms (size).
 * Returns 0 (nothing due), 1 (rotated: mc_rotfile_last_name says where the old
 * file went) or -1: err says why, and lines keep going to the file they went
 * to (the next attempt comes at the next boundary, or once the file has grown
 * by max_bytes again).
 */
int mc_rotfile_check(struct mc_rotfile *rf, uint64_t now_ms, char *err, size_t errlen);

/* The name the last rotation gave the old file. */
const char *mc_rotfile_last_name(const struct mc_rotfile *rf);

/*
 * Starts the file again under its name, appending (SIGHUP: the operator
 * renamed it; what was written before stays in the renamed file).  0, or -1
 * with err set when the name cannot be opened: the old file is kept then.
 */
int mc_rotfile_reopen(struct mc_rotfile *rf, char *err, size_t errlen);

/* Flushes and closes; 0, or -1 when a write failed at the end.  NULL is a no-op. */
int mc_rotfile_close(struct mc_rotfile *rf);

#endif /* MC_COMMON_ROTFILE_H */
