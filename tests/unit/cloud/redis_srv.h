/*
 * redis_srv.h - private redis-server processes for the cloud tests (the
 * hiredis test.sh / Redis tests/support/server.tcl approach): each server runs
 * in a mkdtemp directory, dies with the test process (PR_SET_PDEATHSIG), and
 * is killed by rs_cleanup() from every test's teardown and from atexit.
 * Header-only: each test executable includes it once.
 */
#ifndef MC_TEST_REDIS_SRV_H
#define MC_TEST_REDIS_SRV_H

#include <arpa/inet.h>
#include <stdarg.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#define RS_MAX 16

struct rs_server {
    pid_t pid;
    int port;          /* 0: unix socket only */
    char sock[300];    /* unix socket path or "" */
    char extra[8][128]; /* extra arguments, for a restart */
    int n_extra;
};

static struct rs_server rs_servers[RS_MAX];
static int rs_n;
static char rs_dir[256];
static int rs_atexit_done;

__attribute__((unused)) static double rs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 1 when redis-server is on PATH. */
__attribute__((unused)) static int rs_have(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[512];
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *e = strchr(path, ':');
        size_t l = e ? (size_t)(e - path) : strlen(path);
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)l, path, prog);
        if (access(buf, X_OK) == 0)
            return 1;
        path += l + (e ? 1 : 0);
    }
    return 0;
}

__attribute__((unused)) static int rs_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

/* Kills every server started and removes the temporary directory. */
__attribute__((unused)) static void rs_cleanup(void)
{
    for (int i = 0; i < rs_n; i++) {
        if (rs_servers[i].pid > 0) {
            kill(rs_servers[i].pid, SIGCONT);
            kill(rs_servers[i].pid, SIGKILL);
            waitpid(rs_servers[i].pid, NULL, 0);
            rs_servers[i].pid = 0;
        }
    }
    rs_n = 0;
    if (rs_dir[0]) {
        nftw(rs_dir, rs_rm, 8, FTW_DEPTH | FTW_PHYS);
        rs_dir[0] = '\0';
    }
}

__attribute__((unused)) static int rs_teardown(void **state)
{
    (void)state;
    rs_cleanup();
    return 0;
}

/* The per-test temporary directory (created on first use). */
__attribute__((unused)) static const char *rs_tmpdir(void)
{
    if (!rs_atexit_done) {
        atexit(rs_cleanup);
        rs_atexit_done = 1;
    }
    if (!rs_dir[0]) {
        snprintf(rs_dir, sizeof(rs_dir), "/tmp/mc-cloud-test-XXXXXX");
        if (!mkdtemp(rs_dir)) {
            rs_dir[0] = '\0';
            return NULL;
        }
    }
    return rs_dir;
}

/* A loopback TCP port free now (and port + 10000 too when bus, for a cluster node). */
__attribute__((unused)) static int rs_free_port(int bus)
{
    for (int tries = 0; tries < 200; tries++) {
        int port = 20000 + (int)((unsigned)rand() % 30000);
        int ok = 1;
        for (int k = 0; k < (bus ? 2 : 1) && ok; k++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in sa;
            memset(&sa, 0, sizeof(sa));
            sa.sin_family = AF_INET;
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            sa.sin_port = htons((uint16_t)(port + k * 10000));
            ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
            if (fd >= 0)
                close(fd);
        }
        for (int i = 0; i < rs_n && ok; i++)
            ok = rs_servers[i].port != port;
        if (ok)
            return port;
    }
    return -1;
}

/* Starts argv[0] from PATH with its output discarded; it dies with the test process. Returns its pid, or -1. */
__attribute__((unused)) static pid_t rs_spawn(const char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Forks and execs redis-server for s (its log goes to DIR/redis-<port>.log). */
__attribute__((unused)) static void rs_exec(struct rs_server *s)
{
    const char *argv[40];
    char portbuf[16], logbuf[400], dirbuf[300];
    int a = 0;
    snprintf(portbuf, sizeof(portbuf), "%d", s->port);
    snprintf(logbuf, sizeof(logbuf), "%s/redis-%d-%d.log", rs_dir, s->port, (int)(s - rs_servers));
    snprintf(dirbuf, sizeof(dirbuf), "%s", rs_dir);
    argv[a++] = "redis-server";
    argv[a++] = "--port";
    argv[a++] = portbuf;
    argv[a++] = "--bind";
    argv[a++] = "127.0.0.1";
    if (s->sock[0]) {
        argv[a++] = "--unixsocket";
        argv[a++] = s->sock;
    }
    argv[a++] = "--save";
    argv[a++] = "";
    argv[a++] = "--appendonly";
    argv[a++] = "no";
    argv[a++] = "--dir";
    argv[a++] = dirbuf;
    argv[a++] = "--logfile";
    argv[a++] = logbuf;
    for (int i = 0; i < s->n_extra; i++)
        argv[a++] = s->extra[i];
    argv[a] = NULL;
    s->pid = rs_spawn(argv);
}

/* Synchronous hiredis context to s, or NULL. Free with redisFree. */
__attribute__((unused)) static redisContext *rs_sync(const struct rs_server *s)
{
    struct timeval tv = { 1, 0 };
    redisContext *rc = s->port ? redisConnectWithTimeout("127.0.0.1", s->port, tv)
                               : redisConnectUnixWithTimeout(s->sock, tv);
    if (rc && rc->err) {
        redisFree(rc);
        return NULL;
    }
    if (rc)
        redisSetTimeout(rc, (struct timeval){ 5, 0 });
    return rc;
}

/* Waits until s answers PING (or NOAUTH); returns 1, or 0 after timeout seconds. */
__attribute__((unused)) static int rs_wait(const struct rs_server *s, double timeout)
{
    double end = rs_now() + timeout;
    while (rs_now() < end) {
        redisContext *rc = rs_sync(s);
        if (rc) {
            redisReply *r = redisCommand(rc, "PING");
            int ok = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR);
            if (r)
                freeReplyObject(r);
            redisFree(rc);
            if (ok)
                return 1;
        }
        usleep(20000);
    }
    return 0;
}

/*
 * Starts a server: on a unix socket in the temp dir when unix_only (port 0),
 * else on a free loopback port; extra arguments are appended (NULL-ended).
 * Returns the server, waited for, or NULL.
 */
__attribute__((unused)) static struct rs_server *rs_start(int unix_only, int bus, ...)
{
    if (rs_n >= RS_MAX || !rs_tmpdir())
        return NULL;
    struct rs_server *s = &rs_servers[rs_n];
    memset(s, 0, sizeof(*s));
    if (unix_only)
        snprintf(s->sock, sizeof(s->sock), "%s/r%d.sock", rs_dir, rs_n);
    else
        s->port = rs_free_port(bus);
    if (s->port < 0)
        return NULL;
    va_list ap;
    va_start(ap, bus);
    const char *arg;
    while ((arg = va_arg(ap, const char *)) != NULL && s->n_extra < 8)
        snprintf(s->extra[s->n_extra++], sizeof(s->extra[0]), "%s", arg);
    va_end(ap);
    rs_n++;
    rs_exec(s);
    return rs_wait(s, 10) ? s : NULL;
}

/* Restarts a killed server with the same arguments; returns 1 when it answers. */
__attribute__((unused)) static int rs_restart(struct rs_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    rs_exec(s);
    return rs_wait(s, 10);
}

/* SIGKILLs s and reaps it. */
__attribute__((unused)) static void rs_kill(struct rs_server *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

/* "127.0.0.1:port" or "unix:/path" for the layer's config; static buffer per server. */
__attribute__((unused)) static const char *rs_addr(const struct rs_server *s)
{
    static char buf[RS_MAX][320];
    int i = (int)(s - rs_servers);
    if (s->port)
        snprintf(buf[i], sizeof(buf[i]), "127.0.0.1:%d", s->port);
    else
        snprintf(buf[i], sizeof(buf[i]), "unix:%s", s->sock);
    return buf[i];
}

/* One synchronous command on s; returns the reply (freeReplyObject) or NULL. */
__attribute__((unused)) static redisReply *rs_cmd(const struct rs_server *s, const char *fmt, ...)
{
    redisContext *rc = rs_sync(s);
    if (!rc)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    redisFree(rc);
    return r;
}

__attribute__((unused)) static void rs_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* Runs loop until cond(arg) or timeout seconds; returns the last cond value. */
__attribute__((unused)) static int rs_run_until(struct ev_loop *loop, int (*cond)(void *), void *arg, double timeout)
{
    ev_timer t;
    ev_timer_init(&t, rs_tick, 0.005, 0.005);
    ev_timer_start(loop, &t);
    double end = rs_now() + timeout;
    int ok;
    while (!(ok = cond ? cond(arg) : 0) && rs_now() < end)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &t);
    return ok;
}

/* Runs loop for seconds. */
__attribute__((unused)) static void rs_run_for(struct ev_loop *loop, double seconds)
{
    rs_run_until(loop, NULL, NULL, seconds);
}

/* One command's outcome, recorded by rs_on_reply (an mc_cloud_reply_fn). */
struct rs_outcome {
    int calls;              /* times the callback ran: exactly 1 expected */
    int null;               /* of which without a reply (connection lost or freed) */
    int err;                /* error replies */
    int type;
    long long integer;
    char str[64];           /* the string reply, cut to fit (binary-safe) */
};

__attribute__((unused)) static void rs_on_reply(void *privdata, struct redisReply *r)
{
    struct rs_outcome *o = privdata;
    o->calls++;
    if (!r) {
        o->null++;
        return;
    }
    o->type = r->type;
    o->err += r->type == REDIS_REPLY_ERROR;
    o->integer = r->integer;
    if (r->str) {
        size_t l = r->len < sizeof(o->str) - 1 ? r->len : sizeof(o->str) - 1;
        memcpy(o->str, r->str, l);
        o->str[l] = '\0';
    }
}

/* n outcomes to wait for with rs_run_until(loop, rs_all_answered, &w, seconds). */
struct rs_outcomes {
    struct rs_outcome *o;
    int n;
};

__attribute__((unused)) static int rs_all_answered(void *arg)
{
    const struct rs_outcomes *w = arg;
    for (int i = 0; i < w->n; i++)
        if (!w->o[i].calls)
            return 0;
    return 1;
}

#endif
