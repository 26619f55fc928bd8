#include "presence.h"

#include <stdlib.h>
#include <string.h>

struct holder {
    char agent[CT_ID_MAX + 1];
    char instance[CT_ID_MAX + 1];
    unsigned char route[AGG_ROUTE_MAX];
    size_t route_len;
    int64_t spoke_mono_ms;
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

bool agg_presence_hello(struct agg_presence *p, const char *agent, const char *instance,
                        const unsigned char *route, size_t route_len, int64_t now_mono_ms,
                        char *holder, int64_t *idle_ms)
{
    struct holder *h;
    bool found;
    size_t i;

    if (instance[0] == '\0' || route_len > AGG_ROUTE_MAX)
        return true;
    i = find(p, agent, &found);
    if (found) {
        h = &p->h[i];
        if (strcmp(h->instance, instance) != 0 && !same_route(h, route, route_len) &&
            live(p, h, now_mono_ms)) {
            ct_strlcpy(holder, h->instance, CT_ID_MAX + 1);
            *idle_ms = now_mono_ms - h->spoke_mono_ms;
            return false;
        }
    } else {
        if (p->n == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 64;
            struct holder *grown = realloc(p->h, cap * sizeof(*grown));
            if (grown == NULL)
                return true;
            p->h = grown;
            p->cap = cap;
        }
        memmove(&p->h[i + 1], &p->h[i], (p->n - i) * sizeof(*p->h));
        p->n++;
        h = &p->h[i];
        ct_strlcpy(h->agent, agent, sizeof(h->agent));
    }
    ct_strlcpy(h->instance, instance, sizeof(h->instance));
    memcpy(h->route, route, route_len);
    h->route_len = route_len;
    h->spoke_mono_ms = now_mono_ms;
    return true;
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
        return true;
    }
    if (!live(p, h, now_mono_ms))
        return true;
    ct_strlcpy(holder, h->instance, CT_ID_MAX + 1);
    return false;
}
