#include "httpget.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPLY_MAX (16 * 1024 * 1024)

int http_get(uint16_t port, const char *target, struct http_reply *r)
{
    struct sockaddr_in a = {0};
    struct timeval tv = {10, 0};
    char req[2048], *buf = NULL, *end;
    size_t len = 0, cap = 65536;
    int fd = -1, rc = -1;

    memset(r, 0, sizeof(*r));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        goto out;
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n",
             target, (unsigned)port);
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
        goto out;
    buf = malloc(cap);
    if (buf == NULL)
        goto out;
    for (;;) {
        ssize_t n;
        if (len + 1 >= cap) {
            char *bigger = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;
            if (bigger == NULL)
                goto out;
            buf = bigger;
            cap *= 2;
        }
        n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n < 0)
            goto out; /* timeout */
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    end = strstr(buf, "\r\n\r\n");
    if (end == NULL || sscanf(buf, "HTTP/1.%*c %d", &r->status) != 1)
        goto out;
    *end = '\0';
    for (char *line = strstr(buf, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Type:", 13) == 0) {
            const char *v = line + 15 + strspn(line + 15, " \t");
            size_t n = strcspn(v, "\r");
            snprintf(r->content_type, sizeof(r->content_type), "%.*s", (int)n, v);
        }
    }
    r->body_len = len - (size_t)(end + 4 - buf);
    r->body = malloc(r->body_len + 1);
    if (r->body == NULL)
        goto out;
    memcpy(r->body, end + 4, r->body_len);
    r->body[r->body_len] = '\0';
    rc = 0;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

void http_reply_free(struct http_reply *r)
{
    free(r->body);
    r->body = NULL;
}

uint16_t http_port_from_log(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    unsigned port = 0;

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *p = strstr(line, "serving on ");
        if (p != NULL && (p = strstr(p, "(port ")) != NULL)
            sscanf(p, "(port %u)", &port);
    }
    fclose(f);
    return (uint16_t)port;
}

int http_check_prometheus(const char *text, char *out, size_t out_size)
{
    char input[] = "/tmp/ct-prom-XXXXXX", cmd[8192];
    const char *src = getenv("CT_SOURCE_DIR");
    int fd = mkstemp(input), status;
    size_t got;
    FILE *p;

    if (fd < 0 || src == NULL)
        return -1;
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        return -1;
    }
    close(fd);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/support/check_prom.py' '%s' 2>&1", src,
             input);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    got = fread(out, 1, out_size - 1, p);
    out[got] = '\0';
    status = pclose(p);
    unlink(input);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
