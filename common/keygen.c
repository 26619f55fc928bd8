#include "keygen.h"
#include "cli.h"
#include "curve_keys.h"

#include <stdio.h>

int ct_keygen_main(const char *program, const struct ct_config_option *config, size_t n_config,
                   void *settings, int argc, char **argv)
{
    struct ct_cli cli = {program,
                         "keygen",
                         "keygen FILE",
                         "Writes a new CURVE key pair: FILE holds the secret key (mode 0600), "
                         "FILE.pub the public one.\nExisting files are never replaced.",
                         config,
                         n_config,
                         settings,
                         NULL,
                         0,
                         NULL,
                         NULL};
    char public_key[CT_CURVE_KEY_LEN + 1], err[512];
    int first;

    enum ct_cli_result parsed = ct_cli_parse(&cli, argc, argv, &first, NULL, 0);
    if (parsed != CT_CLI_RUN)
        return ct_cli_exit_status(parsed);
    if (argc - first != 1) {
        fprintf(stderr, "%s keygen: expected exactly one FILE (see --help)\n", program);
        return CT_EXIT_USAGE;
    }
    if (ct_curve_keygen(argv[first], public_key, sizeof(public_key), err, sizeof(err)) != 0) {
        fprintf(stderr, "%s keygen: %s\n", program, err);
        return CT_EXIT_FAILURE;
    }
    printf("secret key: %s (mode 0600; keep it on this machine)\n"
           "public key: %s.pub\n%s\n",
           argv[first], argv[first], public_key);
    return CT_EXIT_OK;
}
