#include "cli.h"
#include "version.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_CONFIG_BASE 1000
#define KEY_OPTION_BASE 3000
#define KEY_CONFIG_FILE 'c'
#define KEY_HELP 'h'
#define KEY_VERSION 'V'
#define KEY_CHECK_CONFIG 't'
/* The long forms of -c, -h, -V and -t return KEY_LONG + the letter, so that after an error
 * getopt's optopt tells a long option (0 or >= KEY_LONG) from a short one (the letter). */
#define KEY_LONG 256

static int fold_long(int key)
{
    return key > KEY_LONG && key < KEY_LONG + 128 ? key - KEY_LONG : key;
}

/* Dashes for a config key's underscores: state_dir -> state-dir. */
static void flag_name(const char *key, char *out, size_t out_size)
{
    size_t i = 0;
    for (; key[i] != '\0' && i + 1 < out_size; i++)
        out[i] = key[i] == '_' ? '-' : key[i];
    out[i] = '\0';
}

struct option_table {
    struct option *longopts;
    char (*names)[64];
    char shortopts[64];
};

static int build_table(const struct ct_cli *cli, struct option_table *t)
{
    size_t n = cli->n_config + cli->n_options + 4, k = 0, s = 0;

    t->longopts = calloc(n + 1, sizeof(struct option));
    t->names = calloc(cli->n_config, sizeof(*t->names));
    if (t->longopts == NULL || (cli->n_config > 0 && t->names == NULL))
        return -1;
    for (size_t i = 0; i < cli->n_config; i++) {
        flag_name(cli->config[i].name, t->names[i], sizeof(t->names[i]));
        t->longopts[k++] = (struct option){
            t->names[i], cli->config[i].type == CT_CONFIG_BOOL ? no_argument : required_argument,
            NULL, KEY_CONFIG_BASE + (int)i};
    }
    for (size_t i = 0; i < cli->n_options; i++) {
        t->longopts[k++] = (struct option){
            cli->options[i].name, cli->options[i].takes_value ? required_argument : no_argument,
            NULL, KEY_OPTION_BASE + (int)i};
    }
    t->longopts[k++] =
        (struct option){"config", required_argument, NULL, KEY_LONG + KEY_CONFIG_FILE};
    t->longopts[k++] = (struct option){"help", no_argument, NULL, KEY_LONG + KEY_HELP};
    t->longopts[k++] = (struct option){"version", no_argument, NULL, KEY_LONG + KEY_VERSION};
    /* Only the daemons have something to check before they run (like nginx -t). */
    if (cli->command == NULL)
        t->longopts[k++] =
            (struct option){"check-config", no_argument, NULL, KEY_LONG + KEY_CHECK_CONFIG};

    /* '+' would stop at the first positional; we want GNU permutation so that
     * "agent add ID --district X" works, and ':' to tell a missing value apart. */
    t->shortopts[s++] = ':';
    memcpy(t->shortopts + s, "c:hV", 4);
    s += 4;
    if (cli->command == NULL)
        t->shortopts[s++] = KEY_CHECK_CONFIG;
    for (size_t i = 0; i < cli->n_options && s + 3 < sizeof(t->shortopts); i++) {
        if (cli->options[i].short_name == 0)
            continue;
        t->shortopts[s++] = cli->options[i].short_name;
        if (cli->options[i].takes_value)
            t->shortopts[s++] = ':';
    }
    t->shortopts[s] = '\0';
    return 0;
}

static void free_table(struct option_table *t)
{
    free(t->longopts);
    free(t->names);
}

static const char *prefix(const struct ct_cli *cli, char *buf, size_t size)
{
    if (cli->command != NULL)
        snprintf(buf, size, "%s %s", cli->program, cli->command);
    else
        snprintf(buf, size, "%s", cli->program);
    return buf;
}

void ct_cli_print_help(const struct ct_cli *cli)
{
    printf("Usage: %s %s\n\n%s\n\nOptions:\n", cli->program, cli->usage, cli->summary);
    for (size_t i = 0; i < cli->n_options; i++) {
        const struct ct_cli_option *o = &cli->options[i];
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
                     o->takes_value ? " " : "", o->takes_value ? o->value_name : "");
        else
            snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->takes_value ? " " : "",
                     o->takes_value ? o->value_name : "");
        printf("  %-30s %s\n", left, o->help);
    }
    for (size_t i = 0; i < cli->n_config; i++) {
        char name[64], left[96];
        flag_name(cli->config[i].name, name, sizeof(name));
        snprintf(left, sizeof(left), "    --%s%s", name,
                 cli->config[i].type == CT_CONFIG_BOOL ? "" : " VALUE");
        printf("  %-30s %s [%s] %s\n", left, cli->config[i].help, cli->config[i].section,
               cli->config[i].name);
    }
    printf("  %-30s %s\n", "-c, --config FILE", "read settings from an INI file; flags win");
    if (cli->command == NULL)
        printf("  %-30s %s\n", "-t, --check-config",
               "check the settings (file and flags), print \"configuration ok\" and exit");
    printf("  %-30s %s\n", "-h, --help", "show this help");
    printf("  %-30s %s\n", "-V, --version", "show the version");
    printf("\nExit status: 0 ok, 1 runtime failure, 2 usage or configuration error.\n");
}

int ct_cli_exit_status(enum ct_cli_result result)
{
    return result == CT_CLI_ERROR ? CT_EXIT_USAGE : CT_EXIT_OK;
}

enum ct_cli_result ct_cli_parse(const struct ct_cli *cli, int argc, char **argv, int *first_arg,
                                char *config_path_out, size_t config_path_size)
{
    struct option_table t = {0};
    const char *config_path = NULL;
    char who[128], err[CT_CONFIG_ERR_MAX];
    enum ct_cli_result result = CT_CLI_ERROR;
    bool check_only = false;
    int key;

    prefix(cli, who, sizeof(who));
    if (build_table(cli, &t) != 0) {
        fprintf(stderr, "%s: out of memory\n", who);
        goto out;
    }

    /* Pass 1: --help, --version and the config file, before any flag is applied. */
    opterr = 0;
    optind = 0;
    while ((key = getopt_long(argc, argv, t.shortopts, t.longopts, NULL)) != -1) {
        key = fold_long(key);
        if (key == KEY_HELP) {
            ct_cli_print_help(cli);
            result = CT_CLI_DONE;
            goto out;
        }
        if (key == KEY_VERSION) {
            printf("%s %s\n", cli->program, CT_VERSION);
            result = CT_CLI_DONE;
            goto out;
        }
        if (key == KEY_CONFIG_FILE)
            config_path = optarg;
        if (key == KEY_CHECK_CONFIG && cli->command == NULL)
            check_only = true;
    }
    if (config_path_out != NULL)
        snprintf(config_path_out, config_path_size, "%s", config_path ? config_path : "");
    if (config_path != NULL && ct_config_load_file(config_path, cli->config, cli->n_config,
                                                   cli->settings, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", who, err);
        goto out;
    }

    /* Pass 2: flags, in order, over the file's values. */
    optind = 0;
    while ((key = getopt_long(argc, argv, t.shortopts, t.longopts, NULL)) != -1) {
        key = fold_long(key);
        if (key == KEY_CONFIG_FILE || (key == KEY_CHECK_CONFIG && cli->command == NULL))
            continue;
        if (key == '?' || key == ':') {
            /* A long option is named by its word, which getopt has just passed; a short one
             * by optopt, as it may sit inside a cluster ("-nx") not yet passed. */
            bool is_long = optopt == 0 || optopt >= KEY_LONG;
            const char *word = argv[optind - 1];
            char name[64];
            if (is_long)
                snprintf(name, sizeof(name), "%.*s", (int)strcspn(word, "="), word);
            else
                snprintf(name, sizeof(name), "-%c", optopt);
            if (key == ':')
                fprintf(stderr, "%s: option '%s' needs a value\n", who, name);
            else if (is_long && optopt != 0)
                fprintf(stderr, "%s: option '%s' takes no value\n", who, name);
            else
                fprintf(stderr, "%s: unknown option '%s' (try --help)\n", who,
                        is_long ? word : name);
            goto out;
        }
        if (key >= KEY_CONFIG_BASE && key < KEY_CONFIG_BASE + (int)cli->n_config) {
            const struct ct_config_option *opt = &cli->config[key - KEY_CONFIG_BASE];
            if (ct_config_set(cli->config, cli->n_config, cli->settings, opt->section, opt->name,
                              optarg ? optarg : "true", err, sizeof(err)) != 0) {
                fprintf(stderr, "%s: --%s: %s\n", who, t.names[key - KEY_CONFIG_BASE], err);
                goto out;
            }
            continue;
        }
        size_t index = cli->n_options;
        if (key >= KEY_OPTION_BASE && key < KEY_OPTION_BASE + (int)cli->n_options)
            index = (size_t)(key - KEY_OPTION_BASE);
        for (size_t i = 0; i < cli->n_options && index == cli->n_options; i++) {
            if (cli->options[i].short_name == key)
                index = i;
        }
        if (index == cli->n_options || cli->handler == NULL) {
            fprintf(stderr, "%s: unexpected option '%s'\n", who, argv[optind - 1]);
            goto out;
        }
        if (cli->handler(cli->handler_ctx, index, optarg, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s: --%s: %s\n", who, cli->options[index].name, err);
            goto out;
        }
    }
    *first_arg = optind;
    result = CT_CLI_RUN;
    if (check_only) {
        if (optind < argc) {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", who, argv[optind]);
            result = CT_CLI_ERROR;
            goto out;
        }
        printf("%s: configuration ok (%s)\n", who, config_path ? config_path : "no config file");
        result = CT_CLI_DONE;
    }
out:
    free_table(&t);
    return result;
}

int ct_cli_dispatch(const char *program, const struct ct_cli_command *daemon,
                    const struct ct_cli_command *commands, size_t n_commands, int argc, char **argv)
{
    char names[512];
    size_t used = 0;

    if (argc <= 1 || argv[1][0] == '-')
        return daemon->run(argc, argv);
    for (size_t i = 0; i < n_commands; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    names[0] = '\0';
    for (size_t i = 0; i < n_commands && used < sizeof(names); i++) {
        int n = snprintf(names + used, sizeof(names) - used, "%s%s", i > 0 ? ", " : "",
                         commands[i].name);
        used += n > 0 ? (size_t)n : 0;
    }
    fprintf(stderr, "%s: unknown command '%s' (commands: %s; none runs the %s)\n", program, argv[1],
            names, daemon->name);
    return CT_EXIT_USAGE;
}
