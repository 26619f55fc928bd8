/*
 * cmd_import.c - `citytally-collector import FILE.csv`: the drop folder's rules, from the
 * command line. The file is validated whole and queued in one transaction, or nothing of
 * it is; every bad line is printed. The file itself is left where it is, and its receipt
 * (receipt.h) is written beside it once the aggregator has acknowledged every row.
 *
 * `--dry-run` makes every check the import makes and prints what would be queued, one
 * line per row, without writing anything: an outbox that does not exist yet is not
 * created, and one that does is only read.
 */
#include "cli.h"
#include "col_settings.h"
#include "commands.h"
#include "import_file.h"
#include "timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct ct_cli_option import_options[] = {
    {"dry-run", 'n', false, NULL,
     "check the file and print what would be queued, one line per row; queue nothing "
     "(exit 0: it would be imported, 1: it would not)"},
};

static int on_flag(void *ctx, size_t index, const char *value, char *err, size_t err_size)
{
    bool *dry_run = ctx;
    (void)index;
    (void)value;
    (void)err;
    (void)err_size;
    *dry_run = true;
    return 0;
}

/* One line per row the import would queue. */
static void print_rows(const struct col_import *imp, uint64_t first_seq)
{
    for (size_t i = 0; i < imp->n_updates; i++) {
        const struct col_new_update *u = &imp->updates[i];
        char value[CT_VALUE_TEXT_MAX], at[CT_TIME_TEXT_MAX];
        if (ct_value_format(&u->value, value, sizeof(value)) != 0)
            ct_strlcpy(value, "?", sizeof(value));
        ct_time_format(u->at_ms, at, sizeof(at));
        printf("line %lld: seq %llu %s %s %lld = %s at %s%s%s\n", (long long)u->line,
               (unsigned long long)(first_seq + i), ct_op_name(u->op), u->ind, (long long)u->period,
               value, at, u->note ? " note: " : "", u->note ? u->note : "");
    }
}

/* Prints the dry run's verdict; returns the exit status. */
static int dry_run_report(enum col_import_result r, const char *path, const struct col_import *imp,
                          const struct col_import_report *rep)
{
    switch (r) {
    case COL_IMPORT_DONE:
        print_rows(imp, rep->first_seq);
        printf("would queue %zu updates from %s (%s); dry run: nothing was queued\n", rep->rows,
               path, ct_encoding_name(rep->encoding));
        return CT_EXIT_OK;
    case COL_IMPORT_INVALID:
        fprintf(stderr, "%s import: %s: %zu bad line%s, it would not be imported:\n%s", COL_PROGRAM,
                path, imp->n_errors, imp->n_errors == 1 ? "" : "s",
                imp->errors.data ? imp->errors.data : "");
        return CT_EXIT_FAILURE;
    default:
        fprintf(stderr, "%s import: %s: it would not be imported now: %s\n", COL_PROGRAM, path,
                rep->msg);
        return CT_EXIT_FAILURE;
    }
}

int col_cmd_import(int argc, char **argv)
{
    struct col_settings s;
    bool dry_run = false;
    struct ct_cli cli = {
        .program = COL_PROGRAM,
        .command = "import",
        .usage = "import [--dry-run] FILE.csv [options]",
        .summary = "Validates a CSV file (CONTRACT section 5: indicator, value, and "
                   "optionally period, op, observed_at, note; UTF-8 or GBK) and queues all "
                   "of its rows in the outbox of --state-dir in one transaction, or none "
                   "of them. Works whether or not the agent runs.",
        .config = col_settings_table,
        .n_config = col_settings_count,
        .settings = &s,
        .options = import_options,
        .n_options = sizeof(import_options) / sizeof(import_options[0]),
        .handler = on_flag,
        .handler_ctx = &dry_run,
    };
    struct col_outbox *ob = NULL;
    struct col_import *imp = NULL;
    struct ct_catalog_entry *catalog = NULL;
    struct col_outbox_stats st;
    struct col_import_report rep;
    struct col_import_source src;
    char err[COL_OUTBOX_ERROR_MAX], name_buf[4096], dir_buf[PATH_MAX], outbox_path[PATH_MAX + 16];
    size_t n_catalog = 0;
    const char *path;
    int first, rc = CT_EXIT_FAILURE;

    col_settings_defaults(&s);
    enum ct_cli_result parsed = ct_cli_parse(&cli, argc, argv, &first, NULL, 0);
    if (parsed != CT_CLI_RUN)
        return ct_cli_exit_status(parsed);
    if (argc - first != 1) {
        fprintf(stderr, "%s import: expected one FILE.csv, got %d arguments (see --help)\n",
                COL_PROGRAM, argc - first);
        return CT_EXIT_USAGE;
    }
    path = argv[first];
    ct_strlcpy(name_buf, path, sizeof(name_buf));

    imp = col_import_new();
    if (imp == NULL) {
        fprintf(stderr, "%s import: out of memory\n", COL_PROGRAM);
        goto out;
    }
    snprintf(outbox_path, sizeof(outbox_path), "%s/%s", s.state_dir, COL_OUTBOX_FILE);
    if (dry_run && access(outbox_path, F_OK) != 0) {
        /* Opening would create an outbox: check against no catalog and no history. */
        memset(&st, 0, sizeof(st));
        rc = dry_run_report(
            col_import_file_check(NULL, path, NULL, 0, s.district, s.outbox_max, imp, &rep), path,
            imp, &rep);
        goto out;
    }
    if (col_outbox_new(s.state_dir, &ob, err, sizeof(err)) != 0 ||
        col_outbox_stats(ob, &st, err, sizeof(err)) != 0 ||
        col_outbox_load_catalog(ob, &catalog, &n_catalog, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s import: %s\n", COL_PROGRAM, err);
        goto out;
    }
    if (dry_run) {
        rc = dry_run_report(col_import_file_check(ob, path, catalog, n_catalog,
                                                  s.district[0] ? s.district : st.district,
                                                  s.outbox_max, imp, &rep),
                            path, imp, &rep);
        goto out;
    }
    /* The receipt goes beside the file, which stays where it is. */
    if (realpath(path, dir_buf) == NULL) {
        fprintf(stderr, "%s import: %s: %s\n", COL_PROGRAM, path, strerror(errno));
        goto out;
    }
    src = (struct col_import_source){AT_FDCWD, path, basename(name_buf), NULL, dirname(dir_buf)};
    switch (col_import_file_at(ob, &src, catalog, n_catalog,
                               s.district[0] ? s.district : st.district, s.outbox_max, imp, &rep)) {
    case COL_IMPORT_DONE:
        printf("queued %zu updates from %s (%s), seqs %llu to %llu\n", rep.rows, path,
               ct_encoding_name(rep.encoding), (unsigned long long)rep.first_seq,
               (unsigned long long)(rep.first_seq + rep.rows - 1));
        rc = CT_EXIT_OK;
        break;
    case COL_IMPORT_INVALID:
        fprintf(stderr, "%s import: %s: %zu bad line%s, nothing was queued:\n%s", COL_PROGRAM, path,
                imp->n_errors, imp->n_errors == 1 ? "" : "s",
                imp->errors.data ? imp->errors.data : "");
        break;
    default:
        fprintf(stderr, "%s import: %s: %s\n", COL_PROGRAM, path, rep.msg);
        break;
    }
out:
    free(catalog);
    col_import_free(imp);
    col_outbox_free(ob);
    return rc;
}
