/*
 * loadgen_main.c - citytally-loadgen: drives a running aggregator as K collectors.
 *
 *   citytally-loadgen --endpoint E [--agents K] [--prefix P] [--per-agent N] [--batch B]
 *                     [--window W] [--rate R] [--districts a,b,c] [--server-key FILE
 *                     --client-keys DIR] [--timeout-ms T] [--sets]
 *
 * --sets sends each update as a `set` of the agent's running total instead of an `add`
 * (the figures end the same), so the aggregator's plausibility checks run on every one.
 * --rate R offers R updates/s in all, each agent R/K of them on its own evenly spaced
 * schedule; without it every agent sends as fast as its window allows.
 * Agents P0..P(K-1) must be registered (the bench script does it). Prints one line:
 *   acked=<n> seconds=<s> rate=<updates/s> p50_ms=<> p99_ms=<> max_ms=<> resends=<> errors=<>
 * and exits 1 if not every update was acked before the deadline.
 */
#include "curve_keys.h"
#include "loadgen.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zmq.h>

#define MAX_AGENTS 4096
#define MAX_DISTRICTS 32

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"endpoint", required_argument, NULL, 'e'},
                                            {"agents", required_argument, NULL, 'k'},
                                            {"prefix", required_argument, NULL, 'p'},
                                            {"per-agent", required_argument, NULL, 'n'},
                                            {"batch", required_argument, NULL, 'b'},
                                            {"window", required_argument, NULL, 'w'},
                                            {"rate", required_argument, NULL, 'r'},
                                            {"districts", required_argument, NULL, 'd'},
                                            {"server-key", required_argument, NULL, 's'},
                                            {"client-keys", required_argument, NULL, 'c'},
                                            {"timeout-ms", required_argument, NULL, 't'},
                                            {"deadline-s", required_argument, NULL, 'D'},
                                            {"idle-seconds", required_argument, NULL, 'I'},
                                            {"sets", no_argument, NULL, 'S'},
                                            {NULL, 0, NULL, 0}};
    static char district_buf[1024] = "erqi";
    static const char *districts[MAX_DISTRICTS];
    struct loadgen_config cfg = {.agents = 16,
                                 .agent_prefix = "b",
                                 .updates_per_agent = 100000,
                                 .batch = 1000,
                                 .window = 4,
                                 .timeout_ms = 5000,
                                 .indicator = "st_enterprises",
                                 .period = 2015,
                                 .at_ms = 1435636800000LL};
    const char *server_key_file = NULL, *client_key_dir = NULL;
    static char publics[MAX_AGENTS][CT_CURVE_KEY_LEN + 1],
        secrets[MAX_AGENTS][CT_CURVE_KEY_LEN + 1];
    static const char *public_ptrs[MAX_AGENTS], *secret_ptrs[MAX_AGENTS];
    char server_public[CT_CURVE_KEY_LEN + 1], err[512];
    long deadline_s = 600, idle_seconds = -1;
    struct loadgen_result r;
    struct loadgen *lg;
    void *ctx;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'e':
            cfg.endpoint = optarg;
            break;
        case 'k':
            cfg.agents = strtoul(optarg, NULL, 10);
            break;
        case 'p':
            cfg.agent_prefix = optarg;
            break;
        case 'n':
            cfg.updates_per_agent = strtoull(optarg, NULL, 10);
            break;
        case 'b':
            cfg.batch = strtoul(optarg, NULL, 10);
            break;
        case 'w':
            cfg.window = strtoul(optarg, NULL, 10);
            break;
        case 'r':
            cfg.rate = strtod(optarg, NULL);
            break;
        case 'd':
            snprintf(district_buf, sizeof(district_buf), "%s", optarg);
            break;
        case 's':
            server_key_file = optarg;
            break;
        case 'c':
            client_key_dir = optarg;
            break;
        case 't':
            cfg.timeout_ms = atoi(optarg);
            break;
        case 'D':
            deadline_s = atol(optarg);
            break;
        case 'I':
            idle_seconds = atol(optarg);
            break;
        case 'S':
            cfg.sets = true;
            break;
        default:
            fprintf(stderr, "citytally-loadgen: see the comment at the top of loadgen_main.c\n");
            return 2;
        }
    }
    if (cfg.endpoint == NULL || cfg.agents == 0 || cfg.agents > MAX_AGENTS || cfg.batch == 0 ||
        cfg.batch > 1000) {
        fprintf(stderr,
                "citytally-loadgen: --endpoint is required; 1 <= agents <= %d, 1 <= "
                "batch <= 1000\n",
                MAX_AGENTS);
        return 2;
    }
    for (char *tok = strtok(district_buf, ","); tok && cfg.n_districts < MAX_DISTRICTS;
         tok = strtok(NULL, ","))
        districts[cfg.n_districts++] = tok;
    cfg.districts = districts;
    if (server_key_file != NULL) {
        if (ct_curve_load_public(server_key_file, server_public, err, sizeof(err)) != 0) {
            fprintf(stderr, "citytally-loadgen: %s\n", err);
            return 2;
        }
        for (size_t i = 0; i < cfg.agents; i++) {
            struct ct_curve_keypair keys;
            char path[1024];
            snprintf(path, sizeof(path), "%s/%s%zu.key", client_key_dir, cfg.agent_prefix, i);
            if (ct_curve_load_secret(path, &keys, err, sizeof(err)) != 0) {
                fprintf(stderr, "citytally-loadgen: %s\n", err);
                return 2;
            }
            memcpy(publics[i], keys.public_key, sizeof(publics[i]));
            memcpy(secrets[i], keys.secret_key, sizeof(secrets[i]));
            public_ptrs[i] = publics[i];
            secret_ptrs[i] = secrets[i];
        }
        cfg.server_public_key = server_public;
        cfg.client_public_keys = public_ptrs;
        cfg.client_secret_keys = secret_ptrs;
    }

    /* One DEALER and one TCP connection per agent: 1,000 agents need more than the
     * default 1,024 descriptors and ZeroMQ's default of 1,023 sockets. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, (int)cfg.agents + 64);
    lg = loadgen_new(ctx, &cfg);
    if (lg == NULL) {
        fprintf(stderr, "citytally-loadgen: cannot create %zu agents\n", cfg.agents);
        return 1;
    }
    if (idle_seconds >= 0) {
        /* Connections only: every agent says hello, then all stay connected and quiet
         * while the caller measures the aggregator. */
        size_t welcomed = loadgen_connect_all(lg, now_ms() + deadline_s * 1000);
        printf("welcomed=%zu of %zu\n", welcomed, cfg.agents);
        fflush(stdout);
        struct timespec idle = {idle_seconds, 0};
        nanosleep(&idle, NULL);
        loadgen_free(lg);
        zmq_ctx_term(ctx);
        return welcomed == cfg.agents ? 0 : 1;
    }
    rc = loadgen_run(lg, now_ms() + deadline_s * 1000, NULL, NULL, &r);
    printf("acked=%llu seconds=%.3f rate=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f resends=%llu "
           "errors=%llu\n",
           (unsigned long long)r.acked, r.seconds, r.updates_per_s, r.latency_p50_ms,
           r.latency_p99_ms, r.latency_max_ms, (unsigned long long)r.resends,
           (unsigned long long)r.errors);
    loadgen_free(lg);
    zmq_ctx_term(ctx);
    return rc == 0 ? 0 : 1;
}
