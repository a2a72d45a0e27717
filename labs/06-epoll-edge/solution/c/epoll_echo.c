/*
 * epoll_echo.c: lab 6's reference solution in C. The echo server of lab 1, on one
 * thread, waiting in epoll_wait(2) with every socket registered edge-triggered
 * (EPOLLET). The technique is shown and narrated by `just run epoll --edge` (the
 * book's epoll chapter, "Edge-triggered").
 *
 * Build and mark it:
 *     make -C labs/06-epoll-edge/solution/c
 *     just lab epoll-edge -- ./labs/06-epoll-edge/solution/c/epoll_echo
 * Run it:  ./epoll_echo --listen 127.0.0.1:7000   and   nc 127.0.0.1 7000
 *
 * Edge-triggered means epoll reports a socket when it *changes*: new bytes came, a
 * connection arrived, room opened up to write. It does not report it again while it
 * merely stays ready. So on every report the server does all it can until the kernel
 * says EAGAIN: accept until EAGAIN, read until EAGAIN, write until EAGAIN or nothing
 * is left. Whatever it leaves behind would wait for an edge that may never come.
 *
 * Every socket is registered once, for EPOLLIN|EPOLLOUT|EPOLLET: with edges, asking
 * for EPOLLOUT all the time costs nothing (it is reported when room *opens*, not
 * while it stays open), so no EPOLL_CTL_MOD is ever needed. SIGINT and SIGTERM keep
 * their default action: the process ends and the kernel closes every socket.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 4096
#define MAX_EVENTS 64

/* One client: its socket and the bytes read but not yet written back. Its address
 * is what epoll hands back with each report (data.ptr); the listener's is NULL. */
struct client {
    int fd;
    char buf[BUF_SIZE];
    size_t len; /* bytes in buf */
    size_t off; /* bytes of buf already written back */
};

static int epfd;
static size_t nclients;

static int set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* "127.0.0.1:7000" -> sockaddr_in. */
static int parse_addr(const char *text, struct sockaddr_in *sa) {
    char host[64];
    const char *colon = strrchr(text, ':');
    if (colon == NULL || (size_t)(colon - text) >= sizeof host) return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* Takes the client off the interest list, closes its socket, frees it. (close()
 * alone would drop it from the list too, unless a dup of the fd lived on.) */
static void drop_client(struct client *c, const char *why) {
    nclients--;
    printf("fd %d left: %s (%zu clients)\n", c->fd, why, nclients);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Everything one report allows, until the kernel says EAGAIN: write what is
 * queued; with the buffer empty, read more; again. Stops when a write would block
 * (EPOLLOUT's edge brings us back, and the reading resumes then: no EPOLLIN edge
 * will come for bytes that were already waiting) or a read would (the next bytes
 * bring an EPOLLIN edge). Returns 0 if the client stays, -1 if it was dropped. */
static int pump(struct client *c) {
    for (;;) {
        while (c->off < c->len) {
            /* C: a write to a reset connection raises SIGPIPE; main() ignores it. */
            ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
            if (n >= 0) {
                c->off += (size_t)n;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 0; /* its socket is full: wait for EPOLLOUT */
            } else if (errno != EINTR) {
                drop_client(c, strerror(errno));
                return -1;
            }
        }
        c->off = c->len = 0;
        ssize_t n = read(c->fd, c->buf, sizeof c->buf);
        if (n > 0) {
            c->len = (size_t)n;
        } else if (n == 0) {
            drop_client(c, "closed"); /* everything it sent was echoed above */
            return -1;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0; /* drained: the next bytes bring the next edge */
        } else if (errno != EINTR) {
            drop_client(c, strerror(errno)); /* ECONNRESET after a peer's RST */
            return -1;
        }
    }
}

/* The listener's edge may stand for many connections that arrived together:
 * accept until EAGAIN, or the rest wait in the listen queue for good. */
static void accept_all(int listener) {
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int fd = accept(listener, (struct sockaddr *)&peer, &len);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) fprintf(stderr, "accept: %s\n", strerror(errno));
            return;
        }
        struct client *c = calloc(1, sizeof *c);
        /* Non-blocking, or "read until EAGAIN" becomes "read until the client
         * sends more": the last read() would block the whole server. */
        if (c == NULL || set_nonblocking(fd) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            fprintf(stderr, "epoll_ctl(ADD, %d): %s\n", fd, strerror(errno));
            free(c);
            close(fd);
            continue;
        }
        nclients++;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        printf("%s:%d connected on fd %d (%zu clients)\n", ip, ntohs(peer.sin_port), fd, nclients);
        /* Nothing to do yet: ADD of a ready socket reports it at once (EPOLLOUT). */
    }
}

int main(int argc, char **argv) {
    const char *listen_at = "127.0.0.1:7000";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_at = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--listen IP:PORT]\n", argv[0]);
            return 2;
        }
    }
    struct sockaddr_in addr;
    if (parse_addr(listen_at, &addr) < 0) {
        fprintf(stderr, "error: --listen %s: expected IPv4:PORT\n", listen_at);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, SOMAXCONN) < 0 ||
        set_nonblocking(listener) < 0) {
        fprintf(stderr, "error: listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(listener, (struct sockaddr *)&addr, &len);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
    /* C: stdout to a pipe is fully buffered; the checker reads this line at once. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("listening on %s:%d\n", ip, ntohs(addr.sin_port));

    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &lev) < 0) {
        fprintf(stderr, "error: epoll: %s\n", strerror(errno));
        return 1;
    }

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int ready = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (ready < 0) {
            if (errno == EINTR) continue; /* e.g. stopped and continued (SIGSTOP, SIGCONT) */
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < ready; i++) {
            struct client *c = events[i].data.ptr;
            if (c == NULL) {
                accept_all(listener);
            } else {
                /* EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR: whichever it
                 * was, pump() finds out by trying (read() returns 0 or the error). */
                pump(c);
            }
        }
    }
}
