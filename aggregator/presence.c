#include "presence.h"

#include <stdlib.h>
#include <string.h>

struct holder {
    char agent[CT_ID_MAX + 1];
    char instance[CT_ID_MAX + 1];
    unsigned char route[AGG_ROUTE_MAX];
    size_t route_len;
    int64_t spoke_mono_ms;
    bool spoken; /* a batch since the last agg_presence_spoken */
};

struct agg_presence {
    struct holder *h; /* sorted by agent */
    size_t n, cap;
    int64_t live_ms;
};

struct agg_presence *agg_presence_new(int64_t live_ms)
{
    struct agg_presence *p = calloc(1, sizeof(*p));

    if (p != NULL)
        p->live_ms = live_ms;
    return p;
}

void agg_presence_free(struct agg_presence *p)
{
    if (p == NULL)
        return;
    free(p->h);
    free(p);
}

/* Index of `agent`, or of where it would go (with *found false). */
static size_t find(const struct agg_presence *p, const char *agent, bool *found)
{
    size_t lo = 0, hi = p->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->h[mid].agent, agent);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static bool same_route(const struct holder *h, const unsigned char *route, size_t route_len)
{
    return h->route_len == route_len && memcmp(h->route, route, route_len) == 0;
}

static bool live(const struct agg_presence *p, const struct holder *h, int64_t now_mono_ms)
{
    return now_mono_ms - h->spoke_mono_ms < p->live_ms;
}

bool agg_presence_hello_check(const struct agg_presence *p, const char *agent, const char *instance,
                              const unsigned char *route, size_t route_len, int64_t now_mono_ms,
                              char *holder, int64_t *idle_ms)
{
    const struct holder *h;
    bool found;
    size_t i;

    if (instance[0] == '\0' || route_len > AGG_ROUTE_MAX)
        return true;
    i = find(p, agent, &found);
    if (!found)
        return true;
    h = &p->h[i];
    if (strcmp(h->instance, instance) != 0 && !same_route(h, route, route_len) &&
        live(p, h, now_mono_ms)) {
        ct_strlcpy(holder, h->instance, CT_ID_MAX + 1);
        *idle_ms = now_mono_ms - h->spoke_mono_ms;
        return false;
    }
    return true;
}

void agg_presence_hello_take(struct agg_presence *p, const char *agent, const char *instance,
                             const unsigned char *route, size_t route_len, int64_t now_mono_ms)
{
    struct holder *h;
    bool found;
    size_t i;

    if (instance[0] == '\0' || route_len > AGG_ROUTE_MAX)
        return;
    i = find(p, agent, &found);
    if (!found) {
        if (p->n == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 64;
            struct holder *grown = realloc(p->h, cap * sizeof(*grown));
            if (grown == NULL)
                return;
            p->h = grown;
            p->cap = cap;
        }
        memmove(&p->h[i + 1], &p->h[i], (p->n - i) * sizeof(*p->h));
        p->n++;
        memset(&p->h[i], 0, sizeof(p->h[i]));
        ct_strlcpy(p->h[i].agent, agent, sizeof(p->h[i].agent));
    }
    h = &p->h[i];
    ct_strlcpy(h->instance, instance, sizeof(h->instance));
    memcpy(h->route, route, route_len);
    h->route_len = route_len;
    h->spoke_mono_ms = now_mono_ms;
    h->spoken = false; /* the hello's claim wrote seen_at itself */
}

bool agg_presence_batch(struct agg_presence *p, const char *agent, const unsigned char *route,
                        size_t route_len, int64_t now_mono_ms, char *holder)
{
    bool found;
    size_t i = find(p, agent, &found);
    struct holder *h = found ? &p->h[i] : NULL;

    if (h == NULL)
        return true;
    if (same_route(h, route, route_len)) {
        h->spoke_mono_ms = now_mono_ms;
        h->spoken = true;
        return true;
    }
    if (!live(p, h, now_mono_ms))
        return true;
    ct_strlcpy(holder, h->instance, CT_ID_MAX + 1);
    return false;
}

int agg_presence_spoken(struct agg_presence *p, int64_t now_mono_ms, struct ct_buf *agents,
                        struct ct_buf *instances, struct ct_buf *idle_ms)
{
    int n = 0;

    ct_buf_reset(agents);
    ct_buf_reset(instances);
    ct_buf_reset(idle_ms);
    for (size_t i = 0; i < p->n; i++) {
        struct holder *h = &p->h[i];
        if (!h->spoken)
            continue;
        h->spoken = false;
        ct_buf_puts(agents, n ? "," : "{");
        ct_buf_puts(agents, h->agent);
        ct_buf_puts(instances, n ? "," : "{");
        ct_buf_puts(instances, h->instance);
        ct_buf_printf(idle_ms, "%s%lld", n ? "," : "{",
                      (long long)(now_mono_ms - h->spoke_mono_ms));
        n++;
    }
    if (n == 0)
        return 0;
    ct_buf_puts(agents, "}");
    ct_buf_puts(instances, "}");
    ct_buf_puts(idle_ms, "}");
    return agents->failed || instances->failed || idle_ms->failed ? -1 : n;
}
