/*
 * store.c - what every store shares: the store.* counters (store.h), the
 * configuration defaults, and the queue between the receive loop and the
 * store's writer threads (store.h says what it promises).  The stores
 * themselves are store_sqlite.c (an embedded SQLite file) and
 * store_clickhouse.c (ClickHouse over HTTP); docs/COLLECTOR.md has the
 * schema they all keep.
 */
#include "collector/store.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hostport.h"
#include "common/log.h"

MC_CTR_DEFINE(store, MC_STORE_CTRS)

void mc_store_config_defaults(struct mc_store_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->batch = 10000;        /* one transaction or insert per 10000 flows: the per-write cost vanishes */
    cfg->max_queued = 1000000; /* about 400 MB of flows held while the store is slow or down */
}

const char *mc_store_exporter_text(struct mc_store_exporter *x, const struct mc_coll_src *e)
{
    if (x->have && x->exporter.ver == e->ver && x->exporter.port == e->port &&
        memcmp(x->exporter.addr, e->addr, sizeof(e->addr)) == 0)
        return x->text;
    struct mc_addr a;
    memcpy(a.b, e->addr, sizeof(a.b));
    x->len = e->ver == 4 || e->ver == 6 ? mc_hostport_text(e->ver, &a, e->port, x->text, sizeof(x->text)) : 0;
    x->exporter = *e;
    x->have = 1;
    return x->text;
}

#define CHUNK_MAX 1024            /* flows per queue chunk at most (about 370 KiB) */
#define SPARE_MAX 64              /* emptied chunks kept for reuse; more are freed */
#define FLUSH_MS 1000             /* a partial batch waits at most this long (collector's clock) */
#define RETENTION_EVERY_MS 60000  /* retention runs at most once a minute */
#define LOG_EVERY_S 60            /* write failures, drops: one log line a minute at most */
#define CLOSE_TRIES 3             /* at close, a failing batch is tried this often, then dropped */

struct mc_store_queue {
    struct mc_store_config cfg;
    struct mc_store_writer w;
    size_t chunk_cap;       /* flows per chunk: batch is a whole number of chunks when it can be */
    pthread_t thread[MC_STORE_WRITERS_MAX];
    struct writer_slot {
        struct mc_store_queue *q;
        unsigned slot;
    } slots[MC_STORE_WRITERS_MAX];
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* wakes a writer */

    /* under mu */
    struct mc_store_chunk *head, *tail; /* flows waiting, oldest first; add appends to tail */
    size_t waiting;            /* flows in head..tail */
    size_t held;               /* flows the writers took and have not written yet */
    struct mc_store_chunk *spare; /* emptied chunks for reuse */
    size_t n_spare;
    int flush;                 /* tick: write what waits, a partial batch too */
    uint32_t flush_gen;        /* ticks that asked for a flush: one during a failed write is not lost */
    int stop;                  /* close: write everything, then end */
    uint64_t retention_cut;    /* tick: remove rows that ended before this (epoch ms; 0: none due) */

    /* the caller's (add, tick) */
    uint64_t last_flush_ms, last_retention_ms;
    int ticked;                /* last_*_ms are set */
    uint64_t drops_reported;   /* store.dropped when the last drop was logged */
    uint64_t drop_log_ms;

    int failing;               /* the last write failed: retry at the next flush, not at once */
    uint64_t fails_unlogged;   /* failures since the last log line */
    time_t fail_log_s;         /* monotonic seconds of that line (0: none yet) */
    char last_why[256];        /* the last failure's cause, for the line at close */
};

/* The writer thread counts while the stats reader reads: whole 64-bit stores, never torn. */
#define CTR_ADD(id, v) __atomic_fetch_add(&MC_CTR_GET(store, id), (uint64_t)(v), __ATOMIC_RELAXED)
#define CTR_LOAD(id) __atomic_load_n(&MC_CTR_GET(store, id), __ATOMIC_RELAXED)

static time_t mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec;
}

/* --- the chunks (under mu) ----------------------------------------------- */

static struct mc_store_chunk *chunk_get(struct mc_store_queue *q)
{
    struct mc_store_chunk *c = q->spare;
    if (c) {
        q->spare = c->next;
        q->n_spare--;
    } else {
        c = malloc(sizeof(*c) + q->chunk_cap * sizeof(c->f[0]));
        if (!c)
            return NULL;
    }
    c->next = NULL;
    c->n = 0;
    return c;
}

static void chunks_release(struct mc_store_queue *q, struct mc_store_chunk *c)
{
    while (c) {
        struct mc_store_chunk *next = c->next;
        if (q->n_spare < SPARE_MAX) {
            c->next = q->spare;
            q->spare = c;
            q->n_spare++;
        } else {
            free(c);
        }
        c = next;
    }
}

static void chunks_free(struct mc_store_chunk *c)
{
    while (c) {
        struct mc_store_chunk *next = c->next;
        free(c);
        c = next;
    }
}

/*
 * Detaches whole chunks from the head until they hold at least a batch (or all that waits).  A writer
 * that fell behind takes up to `backlog` batches at once: a larger write shares its fixed cost (a
 * commit's dirtied index pages, an HTTP request and a new part) among more rows.
 */
static struct mc_store_chunk *take(struct mc_store_queue *q, size_t *n)
{
    struct mc_store_chunk *first = q->head, *last = NULL;
    size_t want = q->cfg.batch, k = 0;
    if (q->waiting > want)
        want = q->waiting < want * q->w.backlog ? q->waiting : want * q->w.backlog;
    for (struct mc_store_chunk *c = q->head; c && k < want; c = c->next) {
        k += c->n;
        last = c;
    }
    q->head = last->next;
    if (!q->head)
        q->tail = NULL; /* add starts a new chunk rather than fill one being written */
    last->next = NULL;
    q->waiting -= k;
    q->held += k;
    *n = k;
    return first;
}

/* A batch that could not be written goes back in front, oldest flows first again. */
static void put_back(struct mc_store_queue *q, struct mc_store_chunk *first, size_t n)
{
    struct mc_store_chunk *last = first;
    while (last->next)
        last = last->next;
    last->next = q->head;
    q->head = first;
    if (!q->tail)
        q->tail = last;
    q->waiting += n;
    q->held -= n;
}

static int batch_due(const struct mc_store_queue *q)
{
    if (q->waiting == 0)
        return 0;
    if (q->stop)
        return 1;
    if (q->failing)
        return q->flush; /* not at once: the store (the disk, the lock holder, the server) gets a second */
    return q->flush || q->waiting >= q->cfg.batch;
}

/* --- the writer thread ----------------------------------------------------- */

void mc_store_queue_failed(struct mc_store_queue *q, const char *what, const char *why, const char *then)
{
    CTR_ADD(errors, 1);
    pthread_mutex_lock(&q->mu);
    snprintf(q->last_why, sizeof(q->last_why), "%s", why);
    q->fails_unlogged++;
    time_t now = mono_s();
    if (q->fail_log_s == 0 || now - q->fail_log_s >= LOG_EVERY_S) {
        mc_warn("%s: %s failed: %s (%llu failure(s) since the last report); %s", q->w.what, what, why,
                (unsigned long long)q->fails_unlogged, then);
        q->fail_log_s = now;
        q->fails_unlogged = 0;
    }
    pthread_mutex_unlock(&q->mu);
}

void mc_store_queue_ok(struct mc_store_queue *q)
{
    pthread_mutex_lock(&q->mu);
    if (q->failing || q->fails_unlogged)
        mc_notice("%s: writing again", q->w.what);
    q->fail_log_s = 0;
    q->fails_unlogged = 0;
    pthread_mutex_unlock(&q->mu);
}

static void *writer_main(void *arg)
{
    struct writer_slot *ws = arg;
    struct mc_store_queue *q = ws->q;
    int close_tries = 0;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        if (batch_due(q)) {
            size_t n;
            struct mc_store_chunk *b = take(q, &n);
            int stopping = q->stop;
            uint32_t gen = q->flush_gen;
            pthread_mutex_unlock(&q->mu);
            enum mc_store_result rc = q->w.write(q->w.ctx, ws->slot, b, n, stopping);
            if (rc == MC_STORE_RETRY && stopping && ++close_tries < CLOSE_TRIES) {
                struct timespec pause = { 0, 200 * 1000 * 1000 };
                nanosleep(&pause, NULL);
            }
            pthread_mutex_lock(&q->mu);
            if (rc == MC_STORE_WRITTEN) {
                chunks_release(q, b);
                q->held -= n;
                q->failing = 0;
            } else if (rc == MC_STORE_GIVE_UP) {
                /* refused for what it holds: trying again would block every flow behind it */
                chunks_release(q, b);
                q->held -= n;
                q->failing = 0; /* the store answers: the next batch goes at once */
                CTR_ADD(dropped, n);
            } else if (stopping && close_tries >= CLOSE_TRIES) {
                /* closing and the store still refuses: what is held cannot be kept anywhere (another
                 * writer's batch in flight is that writer's to count) */
                size_t lost = n + q->waiting;
                chunks_free(b);
                chunks_free(q->head);
                q->head = q->tail = NULL;
                q->held -= n;
                q->waiting = 0;
                CTR_ADD(dropped, lost);
                mc_err("%s: closing with %zu flows not written: %s", q->w.what, lost, q->last_why);
            } else {
                put_back(q, b, n);
                q->failing = 1;
                if (q->flush_gen == gen)
                    q->flush = 0; /* the next tick's flush retries (or one that came while this write waited) */
            }
            if (q->waiting == 0)
                q->flush = 0;
            continue;
        }
        if (ws->slot == 0 && q->retention_cut && !q->stop) {
            uint64_t cut = q->retention_cut;
            pthread_mutex_unlock(&q->mu);
            int more = q->w.retention(q->w.ctx, cut);
            pthread_mutex_lock(&q->mu);
            if (!more && q->retention_cut == cut)
                q->retention_cut = 0;
            continue;
        }
        if (q->stop)
            break;
        pthread_cond_wait(&q->cv, &q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* --- the receive loop's side ------------------------------------------------ */

struct mc_store_queue *mc_store_queue_start(const struct mc_store_config *cfg, const struct mc_store_writer *w,
                                            char *err, size_t errlen)
{
    struct mc_store_queue *q = calloc(1, sizeof(*q));
    if (!q) {
        snprintf(err, errlen, "%s: out of memory", w->what);
        return NULL;
    }
    q->cfg = *cfg;
    q->w = *w;
    if (!q->w.backlog)
        q->w.backlog = 1;
    q->drops_reported = CTR_LOAD(dropped); /* the counter is the process's: report this store's drops */
    /* the fewest chunks of at most CHUNK_MAX that hold a batch, filled evenly: 10000 = 10 x 1000 */
    size_t per = (q->cfg.batch + CHUNK_MAX - 1) / CHUNK_MAX;
    q->chunk_cap = (q->cfg.batch + per - 1) / per;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    /* the writers take no signal: the receive loop's thread handles them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    unsigned want = q->w.threads ? q->w.threads : 1, started = 0;
    if (want > MC_STORE_WRITERS_MAX)
        want = MC_STORE_WRITERS_MAX;
    for (; started < want; started++) {
        q->slots[started] = (struct writer_slot){ .q = q, .slot = started };
        if (pthread_create(&q->thread[started], NULL, writer_main, &q->slots[started]) != 0)
            break;
    }
    q->w.threads = started;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started == 0) {
        snprintf(err, errlen, "%s: cannot start its thread", w->what);
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        free(q);
        return NULL;
    }
    if (started < want)
        mc_warn("%s: %u of %u writer threads started", w->what, started, want);
    return q;
}

void mc_store_queue_add(struct mc_store_queue *q, const struct mc_coll_flow *f)
{
    pthread_mutex_lock(&q->mu);
    struct mc_store_chunk *c = q->tail;
    if (q->waiting + q->held >= q->cfg.max_queued)
        goto drop;
    if (!c || c->n == q->chunk_cap) {
        if (!(c = chunk_get(q)))
            goto drop;
        if (q->tail)
            q->tail->next = c;
        else
            q->head = c;
        q->tail = c;
    }
    c->f[c->n++] = *f;
    if (++q->waiting % q->cfg.batch == 0) /* a batch more: a writer more woken (one that writes ignores it) */
        pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return;
drop:
    pthread_mutex_unlock(&q->mu);
    CTR_ADD(dropped, 1);
}

void mc_store_queue_tick(struct mc_store_queue *q, uint64_t now_ms)
{
    if (!q->ticked || now_ms < q->last_flush_ms) { /* the first tick, or the clock went back */
        q->ticked = 1;
        q->last_flush_ms = now_ms;
        /* retention runs and drops are reported at once (unsigned: wraps back in the differences) */
        q->last_retention_ms = now_ms - RETENTION_EVERY_MS;
        q->drop_log_ms = now_ms - (uint64_t)LOG_EVERY_S * 1000;
    }
    int wake = 0;
    pthread_mutex_lock(&q->mu);
    if (now_ms - q->last_flush_ms >= FLUSH_MS) {
        q->last_flush_ms = now_ms;
        if (q->waiting || q->held) { /* held: a write in flight that may fail and wait for a flush */
            q->flush = 1;
            q->flush_gen++;
            wake = 1;
        }
    }
    if (q->cfg.retention_s && now_ms - q->last_retention_ms >= RETENTION_EVERY_MS) {
        q->last_retention_ms = now_ms;
        uint64_t keep_ms = q->cfg.retention_s > UINT64_MAX / 1000 ? UINT64_MAX : q->cfg.retention_s * 1000;
        if (now_ms > keep_ms && !q->retention_cut) {
            q->retention_cut = now_ms - keep_ms;
            wake = 1;
        }
    }
    size_t queued = q->waiting + q->held;
    if (wake) /* every writer: retention is the first's, whichever a signal would wake */
        pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);

    uint64_t dropped = CTR_LOAD(dropped);
    if (dropped != q->drops_reported && now_ms - q->drop_log_ms >= (uint64_t)LOG_EVERY_S * 1000) {
        mc_warn("%s: %llu flows dropped in the last minute or so (%zu held, the bound is %zu)", q->w.what,
                (unsigned long long)(dropped - q->drops_reported), queued, q->cfg.max_queued);
        q->drops_reported = dropped;
        q->drop_log_ms = now_ms;
    }
}

void mc_store_queue_stop(struct mc_store_queue *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (unsigned i = 0; i < q->w.threads; i++)
        pthread_join(q->thread[i], NULL);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    chunks_free(q->head);
    chunks_free(q->spare);
    free(q);
}
