/*
 * import_cmd.c - `citytally-collector import FILE.csv`: the drop folder's rules, from the
 * command line. The file is validated whole and queued in one transaction, or nothing of
 * it is; every bad line is printed. The file itself is left where it is.
 */
#include "cli.h"
#include "commands.h"
#include "import_file.h"
#include "settings.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int col_cmd_import(int argc, char **argv)
{
    struct col_settings s;
    struct ct_cli cli = {COL_PROGRAM,
                         "import",
                         "import FILE.csv [options]",
                         "Validates a CSV file (CONTRACT section 5: indicator, value, and "
                         "optionally period, op, observed_at, note; UTF-8 or GBK) and queues all "
                         "of its rows in the outbox of --state-dir in one transaction, or none "
                         "of them. Works whether or not the agent runs.",
                         col_settings_table,
                         col_settings_count,
                         &s,
                         NULL,
                         0,
                         NULL,
                         NULL};
    struct col_outbox *ob = NULL;
    struct col_import *imp = NULL;
    struct ct_catalog_entry *catalog = NULL;
    struct col_outbox_stats st;
    struct col_import_report rep;
    char err[COL_OUTBOX_ERROR_MAX], name_buf[4096];
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
    if (col_outbox_open(s.state_dir, &ob, err, sizeof(err)) != 0 ||
        col_outbox_stats(ob, &st, err, sizeof(err)) != 0 ||
        col_outbox_load_catalog(ob, &catalog, &n_catalog, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s import: %s\n", COL_PROGRAM, err);
        goto out;
    }
    switch (col_import_file(ob, path, basename(name_buf), catalog, n_catalog,
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
