/*
 * capture.c - libpcap packet sources (pcap_open_offline / pcap_create).
 * Frames are handed over as borrowed bytes, valid only during the callback
 * (pcap_next_ex(3PCAP)).
 */
#include "capture/capture.h"

#include <net/if.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/pcapfile.h"

#define FILE_BUFFER (1 << 20) /* stdio buffer for capture files */
#define MAX_LINK_PROGS 8       /* mapped pcapng: filters compiled for other link types */

MC_CTR_DEFINE(capture, MC_CAPTURE_CTRS)

struct mc_capture {
    pcap_t *p;          /* owned; for a mapped file only a "dead" handle for BPF */
    struct mc_pcapfile pf; /* classic pcap files: the zero-copy reader (pf.base != NULL) */
    struct bpf_program prog; /* mapped file: compiled -f filter, for pf.linktype */
    int has_prog;
    char *bpf;          /* owned: mapped file: the filter, compiled again for other link types */
    struct {
        int linktype;
        struct bpf_program prog;
    } link_progs[MAX_LINK_PROGS]; /* mapped pcapng: interfaces of other link types */
    int n_link_progs;
    volatile int stop;  /* mapped file: mc_capture_break */
    FILE *fp;           /* file mode: owned by p once pcap_fopen_offline succeeded */
    char *fbuf;         /* owned: fp's stdio buffer, freed after p is closed */
    int is_file;
    uint32_t ifindex;
    char source[256];
    char errstr[PCAP_ERRBUF_SIZE + 512]; /* room for the permission hint */
    mc_capture_fn fn;   /* valid during mc_capture_dispatch */
    void *ctx;
    /* kernel counters are totals since open: remember them to add only deltas */
    uint64_t last_drop, last_ifdrop;
};

void mc_capture_config_defaults(struct mc_capture_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->snaplen = 262144;
    cfg->promisc = 1;
    cfg->timeout_ms = 10; /* a packet waits at most this long in the kernel buffer: the cloud's latency budget */
}

static int set_filter(struct mc_capture *c, const char *bpf)
{
    struct bpf_program prog;
    if (!bpf || !*bpf)
        return 0;
    if (c->pf.base) {
        /* mapped file: the filter runs in mc_capture_dispatch (pcap_offline_filter) */
        if (pcap_compile(c->p, &c->prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(c->errstr, sizeof(c->errstr), "bad filter \"%s\": %s", bpf, pcap_geterr(c->p));
            return -1;
        }
        c->has_prog = 1;
        c->bpf = strdup(bpf);
        if (!c->bpf) {
            snprintf(c->errstr, sizeof(c->errstr), "out of memory");
            return -1;
        }
        return 0;
    }
    if (pcap_compile(c->p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(c->errstr, sizeof(c->errstr), "bad filter \"%s\": %s", bpf, pcap_geterr(c->p));
        return -1;
    }
    int rc = pcap_setfilter(c->p, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        snprintf(c->errstr, sizeof(c->errstr), "cannot set filter: %s", pcap_geterr(c->p));
        return -1;
    }
    return 0;
}

/* A capture refused for want of privileges says what grants them: an operator's first hour. */
static void permission_hint(struct mc_capture *c, const char *dev)
{
    char self[256] = "/usr/bin/mcprobe"; /* the program setcap must name: this one */
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0)
        self[n] = 0;
    snprintf(c->errstr, sizeof(c->errstr),
             "%s: permission denied (%s). Capturing needs the CAP_NET_RAW and CAP_NET_ADMIN capabilities: run "
             "as root, or give them to the program (setcap cap_net_raw,cap_net_admin=eip %s), or run the "
             "systemd unit mcprobe@%s.service, which has them",
             dev, pcap_geterr(c->p), self, dev);
}

static int open_live(struct mc_capture *c, const char *dev, const struct mc_capture_config *cfg)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    c->p = pcap_create(dev, eb);
    if (!c->p) {
        snprintf(c->errstr, sizeof(c->errstr), "%s: %s", dev, eb);
        return -1;
    }
    pcap_set_snaplen(c->p, cfg->snaplen);
    pcap_set_promisc(c->p, cfg->promisc);
    pcap_set_timeout(c->p, cfg->timeout_ms);
    if (cfg->buffer_mb > 0)
        pcap_set_buffer_size(c->p, cfg->buffer_mb * 1024 * 1024);
    pcap_set_tstamp_precision(c->p, PCAP_TSTAMP_PRECISION_MICRO);
    int rc = pcap_activate(c->p);
    if (rc == PCAP_ERROR_PERM_DENIED || (rc < 0 && strstr(pcap_geterr(c->p), "not permitted"))) {
        permission_hint(c, dev);
        return -1;
    }
    if (rc < 0) {
        snprintf(c->errstr, sizeof(c->errstr), "%s: %s", dev, pcap_geterr(c->p));
        return -1;
    }
    if (pcap_setnonblock(c->p, 1, eb) != 0) {
        snprintf(c->errstr, sizeof(c->errstr), "%s: %s", dev, eb);
        return -1;
    }
    c->ifindex = if_nametoindex(dev);
    return 0;
}

/* A missing "dir/x" or "x.pcap" is a missing file, not an interface name. */
int mc_capture_is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') != NULL || (n > 5 && strcmp(s + n - 5, ".pcap") == 0) ||
           (n > 7 && strcmp(s + n - 7, ".pcapng") == 0) || (n > 4 && strcmp(s + n - 4, ".cap") == 0);
}

struct mc_capture *mc_capture_open(const char *source, const struct mc_capture_config *cfg, char *err,
                                   size_t errlen)
{
    struct mc_capture *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(c->source, sizeof(c->source), "%s", source);
    struct stat st;
    int rc;
    if (stat(source, &st) == 0 && !S_ISDIR(st.st_mode)) {
        char eb[PCAP_ERRBUF_SIZE] = "";
        c->is_file = 1;
        /* mc_pcapfile_open returns 0 for pcapng & co, and libpcap reports errors */
        if (mc_pcapfile_open(&c->pf, source, eb, sizeof(eb)) == 1) {
            int snap = c->pf.snaplen && c->pf.snaplen < 262144 ? (int)c->pf.snaplen : 262144;
            c->p = pcap_open_dead_with_tstamp_precision(c->pf.linktype, snap, PCAP_TSTAMP_PRECISION_MICRO);
            if (!c->p)
                snprintf(c->errstr, sizeof(c->errstr), "%s: out of memory", source);
        }
    }
    if (c->is_file && c->pf.base) {
        rc = c->p ? 0 : -1;
        if (rc == 0)
            MC_CTR_INC(capture, files);
    } else if (c->is_file) {
        char eb[PCAP_ERRBUF_SIZE] = "";
        /* Our own FILE with a large buffer: stdio's default 4 KiB would cost
         * one read(2) per 4 KiB, a third of the CPU time of a file run. */
        c->fp = fopen(source, "rb");
        c->fbuf = malloc(FILE_BUFFER);
        if (c->fp && c->fbuf) {
            /* glibc ignores the size when the buffer is NULL: give it one */
            setvbuf(c->fp, c->fbuf, _IOFBF, FILE_BUFFER);
            c->p = pcap_fopen_offline_with_tstamp_precision(c->fp, PCAP_TSTAMP_PRECISION_MICRO, eb);
            if (!c->p)
                fclose(c->fp); /* pcap_close closes it once pcap owns it */
        } else {
            snprintf(eb, sizeof(eb), "%s", c->fp ? "out of memory" : strerror(errno));
            if (c->fp)
                fclose(c->fp);
        }
        if (!c->p)
            snprintf(c->errstr, sizeof(c->errstr), "%s: %s", source, eb);
        rc = c->p ? 0 : -1;
        if (rc == 0)
            MC_CTR_INC(capture, files);
    } else if (mc_capture_is_path(source)) {
        snprintf(c->errstr, sizeof(c->errstr), "%s: %s", source, strerror(errno ? errno : ENOENT));
        rc = -1;
    } else {
        rc = open_live(c, source, cfg);
    }
    if (rc == 0)
        rc = set_filter(c, cfg->bpf);
    if (rc != 0) {
        snprintf(err, errlen, "%s", c->errstr);
        mc_capture_close(c);
        return NULL;
    }
    return c;
}

void mc_capture_close(struct mc_capture *c)
{
    if (!c)
        return;
    if (c->has_prog)
        pcap_freecode(&c->prog);
    for (int i = 0; i < c->n_link_progs; i++)
        pcap_freecode(&c->link_progs[i].prog);
    free(c->bpf);
    if (c->p)
        pcap_close(c->p);
    mc_pcapfile_close(&c->pf);
    free(c->fbuf);
    free(c);
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct mc_capture *c = (struct mc_capture *)user;
    MC_CTR_INC(capture, packets);
    MC_CTR_ADD(capture, bytes, h->len);
    if (h->caplen < h->len)
        MC_CTR_INC(capture, truncated);
    uint64_t ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
    c->fn(c->ctx, ts_us, h->caplen, h->len, pcap_datalink(c->p), bytes);
}

/*
 * The filter for a frame of linktype: the interfaces of a pcapng file may
 * differ in link type (libpcap refuses such files), and a program compiled
 * for one link layer reads the wrong offsets on another.  NULL with errstr
 * set when the filter cannot be compiled for that link type.
 */
static const struct bpf_program *link_prog(struct mc_capture *c, int linktype)
{
    if (linktype == c->pf.linktype)
        return &c->prog;
    for (int i = 0; i < c->n_link_progs; i++)
        if (c->link_progs[i].linktype == linktype)
            return &c->link_progs[i].prog;
    if (c->n_link_progs == MAX_LINK_PROGS) {
        snprintf(c->errstr, sizeof(c->errstr), "%s: filter: too many link types", c->source);
        return NULL;
    }
    pcap_t *p = pcap_open_dead(linktype, pcap_snapshot(c->p));
    if (!p) {
        snprintf(c->errstr, sizeof(c->errstr), "%s: out of memory", c->source);
        return NULL;
    }
    struct bpf_program *prog = &c->link_progs[c->n_link_progs].prog;
    if (pcap_compile(p, prog, c->bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(c->errstr, sizeof(c->errstr), "%s: bad filter \"%s\" for link type %d: %s", c->source, c->bpf,
                 linktype, pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    pcap_close(p);
    c->link_progs[c->n_link_progs++].linktype = linktype;
    return prog;
}

/* Mapped classic pcap: records straight from the mapping, filter applied here. */
static int dispatch_mapped(struct mc_capture *c, int max, mc_capture_fn fn, void *ctx)
{
    int n = 0;
    struct mc_pcapfile_rec r;
    c->stop = 0;
    while ((max < 0 || n < max) && !c->stop) {
        int rc = mc_pcapfile_next(&c->pf, &r, c->errstr, sizeof(c->errstr));
        if (rc == 0)
            return n ? n : MC_CAPTURE_EOF;
        if (rc < 0) {
            MC_CTR_INC(capture, file_errors);
            return MC_CAPTURE_ERROR;
        }
        if (c->has_prog) {
            const struct bpf_program *prog = link_prog(c, r.linktype);
            if (!prog) {
                MC_CTR_INC(capture, file_errors);
                return MC_CAPTURE_ERROR;
            }
            struct pcap_pkthdr h;
            h.ts.tv_sec = (time_t)(r.ts_us / 1000000u);
            h.ts.tv_usec = (suseconds_t)(r.ts_us % 1000000u);
            h.caplen = r.caplen;
            h.len = r.wirelen;
            if (!pcap_offline_filter(prog, &h, r.data))
                continue;
        }
        MC_CTR_INC(capture, packets);
        MC_CTR_ADD(capture, bytes, r.wirelen);
        if (r.caplen < r.wirelen)
            MC_CTR_INC(capture, truncated);
        fn(ctx, r.ts_us, r.caplen, r.wirelen, r.linktype, r.data);
        n++;
    }
    return n;
}

int mc_capture_dispatch(struct mc_capture *c, int max, mc_capture_fn fn, void *ctx)
{
    if (c->pf.base)
        return dispatch_mapped(c, max, fn, ctx);
    c->fn = fn;
    c->ctx = ctx;
    int n = pcap_dispatch(c->p, max, on_packet, (u_char *)c);
    if (n == PCAP_ERROR) {
        snprintf(c->errstr, sizeof(c->errstr), "%s: %s", c->source, pcap_geterr(c->p));
        return MC_CAPTURE_ERROR;
    }
    if (n == PCAP_ERROR_BREAK)
        return 0;
    if (n == 0 && c->is_file)
        return MC_CAPTURE_EOF;
    return n;
}

void mc_capture_break(struct mc_capture *c)
{
    c->stop = 1;
    pcap_breakloop(c->p);
}
int mc_capture_is_file(const struct mc_capture *c) { return c->is_file; }
int mc_capture_linktype(const struct mc_capture *c) { return c->pf.base ? c->pf.linktype : pcap_datalink(c->p); }
int mc_capture_fd(const struct mc_capture *c) { return c->is_file ? -1 : pcap_get_selectable_fd(c->p); }
uint32_t mc_capture_ifindex(const struct mc_capture *c) { return c->ifindex; }
const char *mc_capture_source(const struct mc_capture *c) { return c->source; }
const char *mc_capture_error(const struct mc_capture *c) { return c->errstr; }

size_t mc_capture_kept_bytes(const struct mc_capture *c) { return c->pf.base ? MC_PCAPFILE_KEPT : 0; }

uint64_t mc_capture_file_offset(const struct mc_capture *c)
{
    if (c->pf.base)
        return c->pf.pos;
    FILE *f = c->is_file && c->p ? pcap_file(c->p) : NULL;
    long off = f ? ftell(f) : -1; /* stdio's own position: what libpcap consumed */
    return off > 0 ? (uint64_t)off : 0;
}

void mc_capture_update_stats(struct mc_capture *c)
{
    struct pcap_stat ps;
    if (c->is_file || pcap_stats(c->p, &ps) != 0)
        return;
    /* pcap_stat counters are 32-bit totals since activation */
    if (ps.ps_drop >= c->last_drop)
        MC_CTR_ADD(capture, kernel_drops, ps.ps_drop - c->last_drop);
    if (ps.ps_ifdrop >= c->last_ifdrop)
        MC_CTR_ADD(capture, if_drops, ps.ps_ifdrop - c->last_ifdrop);
    c->last_drop = ps.ps_drop;
    c->last_ifdrop = ps.ps_ifdrop;
}
