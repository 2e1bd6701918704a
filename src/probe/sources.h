/*
 * sources.h - what a run reads: the -i sources in their order, a directory
 * standing for the pcap and pcapng files directly in it.
 */
#ifndef MC_PROBE_SOURCES_H
#define MC_PROBE_SOURCES_H

/* The files to read: path[i], and why[i] set when it is known already that it cannot be read. */
struct mc_probe_files {
    char **path; /* owned, as the strings */
    char **why;  /* owned, as the strings; NULL: try it */
    int n, cap;
};

/*
 * Whether sources are files (read in a row on the packet clock) rather than
 * interfaces: some source exists (a file, a directory, a pipe) or names a path
 * (mc_capture_is_path).
 */
int mc_probe_sources_are_files(const char *const *sources, int n);

/*
 * Fills out with the files of sources, in order.  A directory gives its
 * regular files (symbolic links followed) whose first bytes are a pcap or
 * pcapng magic number, in byte order of their names; it is not descended
 * into.  Hidden files, other files and subdirectories are skipped, noted
 * (info) and counted (capture.dir_entries_skipped); a directory without a
 * capture is a warning; one that cannot be listed is an entry with why set.
 * 0, or -1 when memory ran out.  Free with mc_probe_files_free.
 */
int mc_probe_files_expand(struct mc_probe_files *out, const char *const *sources, int n);
void mc_probe_files_free(struct mc_probe_files *files);

#endif
