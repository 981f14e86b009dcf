/* team_threads.c - a Team over pthreads (see team_threads.h).
 *
 * Collectives go through one shared board: each rank posts its pointer and
 * size, everyone meets at a barrier, each copies what it needs, and a second
 * barrier lets the posters reuse their buffers. Point-to-point messages go
 * through one mailbox per (from, to) pair, guarded by a mutex and a
 * condition variable. Slow, simple and exact: it is for tests. */
#include "team_threads.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TT_MAX 16

typedef struct {
    void *data;
    size_t bytes;
    int full;
} Mailbox;

typedef struct {
    int n;
    pthread_barrier_t bar;
    const void *post[TT_MAX];   /* the board */
    size_t post_bytes[TT_MAX];
    int post_int[TT_MAX];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    Mailbox box[TT_MAX][TT_MAX];  /* [from][to] */
    long counter;                 /* take() */
} Shared;

typedef struct {
    Shared *sh;
    Team team;
    void (*fn)(const Team *t, void *arg, int rank);
    void *arg;
} Member;

static Shared *sh_of(const Team *t) { return (Shared *)t->ctx; }

static void tt_barrier(const Team *t) { pthread_barrier_wait(&sh_of(t)->bar); }

static void tt_gather_units(const Team *t, const void *mine, void *all, size_t unit, int k)
{
    Shared *s = sh_of(t);
    s->post[t->rank] = mine;
    pthread_barrier_wait(&s->bar);
    for (int r = 0; r < s->n; r++) {
        int j0, j1;
        team_share(k, r, s->n, &j0, &j1);
        if (j1 > j0) memcpy((char *)all + (size_t)j0 * unit, s->post[r], (size_t)(j1 - j0) * unit);
    }
    pthread_barrier_wait(&s->bar);
}

static void tt_send(const Team *t, int to, const void *buf, size_t bytes)
{
    Shared *s = sh_of(t);
    Mailbox *m = &s->box[t->rank][to];
    pthread_mutex_lock(&s->mu);
    while (m->full) pthread_cond_wait(&s->cv, &s->mu);
    m->data = malloc(bytes ? bytes : 1);
    memcpy(m->data, buf, bytes);
    m->bytes = bytes;
    m->full = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void tt_recv(const Team *t, int from, void *buf, size_t bytes)
{
    Shared *s = sh_of(t);
    Mailbox *m = &s->box[from][t->rank];
    pthread_mutex_lock(&s->mu);
    while (!m->full) pthread_cond_wait(&s->cv, &s->mu);
    memcpy(buf, m->data, bytes < m->bytes ? bytes : m->bytes);
    free(m->data);
    m->data = NULL;
    m->full = 0;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void tt_bcast(const Team *t, void *buf, size_t bytes, int root)
{
    Shared *s = sh_of(t);
    if (t->rank == root) s->post[root] = buf;
    pthread_barrier_wait(&s->bar);
    if (t->rank != root) memcpy(buf, s->post[root], bytes);
    pthread_barrier_wait(&s->bar);
}

static int tt_max_int(const Team *t, int v)
{
    Shared *s = sh_of(t);
    s->post_int[t->rank] = v;
    pthread_barrier_wait(&s->bar);
    int m = s->post_int[0];
    for (int r = 1; r < s->n; r++) m = s->post_int[r] > m ? s->post_int[r] : m;
    pthread_barrier_wait(&s->bar);
    return m;
}

static long tt_take(const Team *t)
{
    Shared *s = sh_of(t);
    pthread_mutex_lock(&s->mu);
    long k = s->counter++;
    pthread_mutex_unlock(&s->mu);
    return k;
}

static void *member_main(void *p)
{
    Member *m = p;
    m->fn(&m->team, m->arg, m->team.rank);
    return NULL;
}

int team_threads_run(int n, void (*fn)(const Team *t, void *arg, int rank), void *arg)
{
    if (n < 1 || n > TT_MAX) return -1;
    Shared *s = calloc(1, sizeof *s);
    Member *mem = calloc((size_t)n, sizeof *mem);
    pthread_t th[TT_MAX];
    if (!s || !mem) {
        free(s);
        free(mem);
        return -1;
    }
    s->n = n;
    pthread_barrier_init(&s->bar, NULL, (unsigned)n);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    for (int r = 0; r < n; r++) {
        mem[r] = (Member){.sh = s, .fn = fn, .arg = arg};
        mem[r].team = (Team){.rank = r, .size = n, .ctx = s, .gather_units = tt_gather_units, .send = tt_send,
                             .recv = tt_recv, .bcast = tt_bcast, .max_int = tt_max_int, .take = tt_take,
                             .barrier = tt_barrier};
    }
    for (int r = 0; r < n; r++)
        if (pthread_create(&th[r], NULL, member_main, &mem[r]))
            abort(); /* the others would wait at a barrier for ever: give up at once */
    for (int r = 0; r < n; r++) pthread_join(th[r], NULL);
    for (int a = 0; a < TT_MAX; a++)
        for (int b = 0; b < TT_MAX; b++) free(s->box[a][b].data);
    pthread_barrier_destroy(&s->bar);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    free(mem);
    return 0;
}
