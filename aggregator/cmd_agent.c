/* `citytally-aggregator agent add|list|remove|skip`: who may send, and seqs the bureau gave
 * up after a restore (see agents.h). */
#include "agents.h"
#include "cli.h"
#include "commands.h"
#include "db.h"
#include "settings.h"
#include "text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct agent_args {
    char district[CT_ID_MAX + 1];
    char key_arg[4096];
    char to[32];
};

static const struct ct_cli_option agent_options[] = {
    {"district", 0, true, "ID", "add: the one unit this agent reports for"},
    {"key", 0, true, "KEY", "add: its CURVE public key, Z85 or a zcert .pub file"},
    {"to", 0, true, "SEQ", "skip: the last seq to give up as lost (its collector names it)"},
};

static int agent_flag(void *ctx, size_t index, const char *value, char *err, size_t err_size)
{
    struct agent_args *a = ctx;
    char *dst = index == 0 ? a->district : index == 1 ? a->key_arg : a->to;
    size_t size = index == 0   ? sizeof(a->district)
                  : index == 1 ? sizeof(a->key_arg)
                               : sizeof(a->to);

    if (ct_strlcpy(dst, value, size) >= size) {
        snprintf(err, err_size, "value too long");
        return -1;
    }
    return 0;
}

static int usage(const char *msg)
{
    fprintf(stderr,
            "%s agent: %s (usage: agent add ID --district ID [--key KEY] | agent list | "
            "agent remove ID | agent skip ID --to SEQ)\n",
            AGG_PROGRAM, msg);
    return CT_EXIT_USAGE;
}

int agg_cmd_agent(int argc, char **argv)
{
    struct agg_settings settings;
    struct agent_args args = {"", "", ""};
    struct ct_cli cli = {
        .program = AGG_PROGRAM,
        .command = "agent",
        .usage = "agent add AGENT_ID --district ID [--key PUBLIC_KEY_Z85_OR_CERT_FILE] | "
                 "agent list | agent remove AGENT_ID | agent skip AGENT_ID --to SEQ",
        .summary = "Manages the collectors allowed to send. A removed agent's id is kept "
                   "and never reused. `skip` gives up seqs that a collector no longer keeps "
                   "after the database was restored from a backup: it records the gap and "
                   "sets the agent's last seq to SEQ. The running daemon picks changes up at "
                   "once.",
        .config = agg_settings_table,
        .n_config = agg_settings_count,
        .settings = &settings,
        .options = agent_options,
        .n_options = sizeof(agent_options) / sizeof(agent_options[0]),
        .handler = agent_flag,
        .handler_ctx = &args,
    };
    char err[AGG_DB_ERR_MAX], key[AGG_Z85_KEY_LEN + 1];
    struct ct_buf out = CT_BUF_INIT;
    PGconn *conn = NULL;
    int first, rc = CT_EXIT_FAILURE;
    uint64_t to_seq = 0, from_seq = 0;
    const char *verb;

    agg_settings_defaults(&settings);
    enum ct_cli_result parsed = ct_cli_parse(&cli, argc, argv, &first, NULL, 0);
    if (parsed != CT_CLI_RUN)
        return ct_cli_exit_status(parsed);
    if (first >= argc)
        return usage("missing add, list, remove or skip");
    verb = argv[first];
    if (strcmp(verb, "add") == 0) {
        if (argc - first != 2)
            return usage("add takes one AGENT_ID");
        if (args.district[0] == '\0')
            return usage("add needs --district ID");
        if (args.key_arg[0] != '\0' && agg_agent_key_read(args.key_arg, key, err, sizeof(err)))
            goto fail_usage;
    } else if (strcmp(verb, "remove") == 0) {
        if (argc - first != 2)
            return usage("remove takes one AGENT_ID");
    } else if (strcmp(verb, "list") == 0) {
        if (argc - first != 1)
            return usage("list takes no arguments");
    } else if (strcmp(verb, "skip") == 0) {
        char *end = NULL;
        if (argc - first != 2)
            return usage("skip takes one AGENT_ID");
        if (args.to[0] == '\0')
            return usage("skip needs --to SEQ");
        errno = 0;
        to_seq = strtoull(args.to, &end, 10);
        if (args.to[0] < '0' || args.to[0] > '9' || *end != '\0' || errno != 0 || to_seq == 0 ||
            to_seq > (uint64_t)INT64_MAX)
            return usage("--to must be a seq (a whole number from 1)");
    } else {
        return usage("unknown action; use add, list, remove or skip");
    }
    if (strcmp(verb, "add") != 0 && (args.district[0] || args.key_arg[0]))
        return usage("--district and --key go with add only");
    if (strcmp(verb, "skip") != 0 && args.to[0])
        return usage("--to goes with skip only");
    /* A malformed id is a usage error (exit 2), found before any database is asked. */
    if (strcmp(verb, "list") != 0 && agg_agent_id_check(argv[first + 1], err, sizeof(err)) != 0)
        goto fail_usage;
    if (args.district[0] != '\0' && !ct_id_valid(args.district, strlen(args.district))) {
        char shown[4 * CT_ID_MAX + 4];
        ct_text_escape(args.district, strlen(args.district), shown, sizeof(shown));
        snprintf(err, sizeof(err), "'%s' is not a valid district id ([a-z0-9_-], 1-%d bytes)",
                 shown, CT_ID_MAX);
        goto fail_usage;
    }

    if ((conn = agg_db_connect(settings.db, err, sizeof(err))) == NULL)
        goto fail;
    if (strcmp(verb, "add") == 0) {
        if (agg_agent_add(conn, argv[first + 1], args.district, args.key_arg[0] ? key : NULL, err,
                          sizeof(err)) != 0)
            goto fail;
        printf("agent %s added for %s%s\n", argv[first + 1], args.district,
               args.key_arg[0] ? " with its CURVE key" : " (no key: insecure mode only)");
    } else if (strcmp(verb, "remove") == 0) {
        if (agg_agent_remove(conn, argv[first + 1], err, sizeof(err)) != 0)
            goto fail;
        printf("agent %s removed\n", argv[first + 1]);
    } else if (strcmp(verb, "skip") == 0) {
        if (agg_agent_skip(conn, argv[first + 1], to_seq, &from_seq, err, sizeof(err)) != 0)
            goto fail;
        printf("agent %s: seqs %" PRIu64 " to %" PRIu64 " recorded as lost; its last seq is now "
               "%" PRIu64 " and its collector goes on from %" PRIu64 "\n",
               argv[first + 1], from_seq, to_seq, to_seq, to_seq + 1);
    } else {
        if (agg_agent_list(conn, &out, err, sizeof(err)) != 0)
            goto fail;
        fwrite(out.data, 1, out.len, stdout);
    }
    rc = CT_EXIT_OK;
    goto out;
fail_usage:
    rc = CT_EXIT_USAGE;
fail:
    fprintf(stderr, "%s agent: %s\n", AGG_PROGRAM, err);
out:
    ct_buf_free(&out);
    PQfinish(conn);
    return rc;
}
