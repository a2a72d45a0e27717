/* A local HTTP server on a thread, for the curl evidence programs: GET /delay/MS answers
 * "ok" after MS milliseconds, GET /bytes/N sends N bytes at once. Connection: close. */
#ifndef EVIDENCE_HTTP_H
#define EVIDENCE_HTTP_H

#include "evidence.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static int http_listener = -1;

static void *http_serve_one(void *arg) {
    int c = (int)(long)arg;
    char req[1024];
    ssize_t n = recv(c, req, sizeof req - 1, 0);
    if (n > 0) {
        req[n] = '\0';
        long delay = 0, bytes = 2;
        char *p;
        if ((p = strstr(req, "/delay/"))) delay = strtol(p + 7, NULL, 10);
        if ((p = strstr(req, "/bytes/"))) bytes = strtol(p + 7, NULL, 10);
        struct timespec d = {delay / 1000, (delay % 1000) * 1000000L};
        nanosleep(&d, NULL);
        char head[128];
        int h = snprintf(head, sizeof head,
                         "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nConnection: close\r\n\r\n", bytes);
        (void)!send(c, head, (size_t)h, MSG_NOSIGNAL);
        char *body = calloc(1, (size_t)bytes + 1);
        if (body) {
            memset(body, 'x', (size_t)bytes);
            (void)!send(c, body, (size_t)bytes, MSG_NOSIGNAL);
            free(body);
        }
    }
    close(c);
    return NULL;
}

/* Accepts until the listener is closed; each connection on its own detached thread. */
static void *http_accept_loop(void *unused) {
    (void)unused;
    for (;;) {
        int c = accept(http_listener, NULL, NULL);
        if (c < 0) return NULL;
        pthread_t t;
        if (pthread_create(&t, NULL, http_serve_one, (void *)(long)c) == 0) pthread_detach(t);
        else close(c);
    }
}

/* Starts the server on 127.0.0.1, port chosen by the kernel; returns the port. */
static int http_start(void) {
    http_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (http_listener < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(http_listener, (struct sockaddr *)&a, len) < 0) die("bind 127.0.0.1:0");
    if (listen(http_listener, 64) < 0) die("listen");
    if (getsockname(http_listener, (struct sockaddr *)&a, &len) < 0) die("getsockname");
    pthread_t t;
    if (pthread_create(&t, NULL, http_accept_loop, NULL) != 0) die("pthread_create");
    pthread_detach(t);
    return ntohs(a.sin_port);
}

#endif
