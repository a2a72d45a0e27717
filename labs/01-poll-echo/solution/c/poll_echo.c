/*
 * poll_echo.c: lab 1's reference solution in C. An echo server for many clients at
 * once, on one thread, with poll(2) (notes: "4. poll()").
 *
 * Build and mark it:
 *     make -C labs/01-poll-echo/solution/c
 *     just lab poll-echo -- ./labs/01-poll-echo/solution/c/poll_echo
 * Run it:  ./poll_echo --listen 127.0.0.1:7000   and   nc 127.0.0.1 7000
 *
 * Same shape as the Rust solution: every socket non-blocking, poll() the only place
 * that waits, and per client a buffer of bytes read but not yet echoed. A client is
 * polled for POLLIN while its buffer is empty, for POLLOUT while it is not. The
 * places C makes you think about that Rust did for you are marked "C:".
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 4096

/* One client: its socket and the bytes read but not yet written back. */
struct client {
    int fd;
    char buf[BUF_SIZE];
    size_t len; /* bytes in buf */
    size_t off; /* bytes of buf already written back */
    int eof;    /* read() returned 0: close once buf is written */
};

/* Entry 0 of `pfds` is the listener; entry i (i >= 1) is clients[i]. */
static struct pollfd *pfds;
static struct client *clients;
static size_t nfds, cap;

static volatile sig_atomic_t stop_signal;

/* A handler may only do async-signal-safe things: it records the signal, and the
 * loop notices (poll() fails with EINTR). */
static void on_signal(int signo) { stop_signal = signo; }

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

static void add_client(int fd) {
    if (nfds == cap) {
        /* C: the arrays grow; poll() takes any number of fds (no FD_SETSIZE). */
        size_t more = cap * 2;
        struct pollfd *p = realloc(pfds, more * sizeof *p);
        if (p != NULL) pfds = p;
        struct client *c = realloc(clients, more * sizeof *c);
        if (c != NULL) clients = c;
        if (p == NULL || c == NULL) {
            fprintf(stderr, "out of memory: refusing fd %d\n", fd);
            close(fd);
            return;
        }
        cap = more;
    }
    pfds[nfds].fd = fd;
    pfds[nfds].events = POLLIN;
    pfds[nfds].revents = 0;
    clients[nfds].fd = fd;
    clients[nfds].len = clients[nfds].off = 0;
    clients[nfds].eof = 0;
    nfds++;
}

/* Closes client i and moves the last entry into its slot. The caller walks the
 * array from the end, so the moved entry has already been handled this round
 * (walking forward would skip it: the bug in many poll servers). */
static void remove_client(size_t i, const char *why) {
    printf("fd %d left: %s (%zu clients)\n", clients[i].fd, why, nfds - 2);
    close(clients[i].fd);
    nfds--;
    if (i != nfds) {
        pfds[i] = pfds[nfds];
        clients[i] = clients[nfds];
    }
}

/* Handles client i's revents: at most one write and one read. Returns 0 if it
 * stays, -1 if it was removed. */
static int service(size_t i) {
    struct client *c = &clients[i];
    short re = pfds[i].revents;
    if (re & POLLNVAL) {
        remove_client(i, "POLLNVAL");
        return -1;
    }
    if ((re & (POLLOUT | POLLERR | POLLHUP)) && c->off < c->len) {
        /* C: write() to a reset connection fails with EPIPE *and* raises SIGPIPE,
         * which kills the process by default; main() ignores SIGPIPE. */
        ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
        if (n >= 0) {
            c->off += (size_t)n;
            if (c->off == c->len) c->off = c->len = 0;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            remove_client(i, strerror(errno));
            return -1;
        }
    }
    /* POLLHUP and POLLERR come whether asked for or not; read() says what they mean
     * (the last bytes, then 0 or the error). Read only into an empty buffer. */
    if (!c->eof && c->len == 0 && (re & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = read(c->fd, c->buf, sizeof c->buf);
        if (n > 0) {
            c->len = (size_t)n;
            c->off = 0;
        } else if (n == 0) {
            c->eof = 1;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            remove_client(i, strerror(errno)); /* ECONNRESET after a peer's RST */
            return -1;
        }
    }
    if (c->eof && c->len == 0) {
        remove_client(i, "closed");
        return -1;
    }
    /* What to wait for next: room to read, or bytes to write. */
    pfds[i].events = c->len > 0 ? POLLOUT : (c->eof ? 0 : POLLIN);
    return 0;
}

static void accept_all(int listener) {
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int fd = accept(listener, (struct sockaddr *)&peer, &len);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno == EMFILE || errno == ENFILE) {
                /* The listener stays readable: stop polling it until a client leaves. */
                fprintf(stderr, "accept: %s: pausing accepts\n", strerror(errno));
                pfds[0].events = 0;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                fprintf(stderr, "accept: %s\n", strerror(errno));
            }
            return;
        }
        if (set_nonblocking(fd) < 0) {
            close(fd);
            continue;
        }
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        printf("%s:%d connected on fd %d (%zu clients)\n", ip, ntohs(peer.sin_port), fd, nfds);
        add_client(fd);
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
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() would fail with EINTR anyway */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, SOMAXCONN) < 0 ||
        set_nonblocking(listener) < 0) {
        fprintf(stderr, "error: listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    /* Port 0 means "any": ask the kernel which one it chose. */
    socklen_t len = sizeof addr;
    getsockname(listener, (struct sockaddr *)&addr, &len);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
    /* C: stdout to a pipe is fully buffered; line-buffer it so each line goes out
     * at once (the checker reads the first one to find the port). */
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("listening on %s:%d\n", ip, ntohs(addr.sin_port));

    cap = 16;
    pfds = malloc(cap * sizeof *pfds);
    clients = malloc(cap * sizeof *clients);
    if (pfds == NULL || clients == NULL) return 1;
    pfds[0].fd = listener;
    pfds[0].events = POLLIN;
    nfds = 1;

    while (!stop_signal) {
        /* A timeout bounds the gap between the stop_signal check and poll(): a
         * signal landing there is seen within a second (ppoll() closes the gap). */
        int ready = poll(pfds, nfds, 1000);
        if (ready < 0) {
            if (errno == EINTR) continue;
            perror("poll");
            return 1;
        }
        /* Clients from the last to the first (see remove_client), then the listener. */
        for (size_t i = nfds - 1; i >= 1; i--) {
            if (pfds[i].revents != 0 && service(i) < 0) pfds[0].events = POLLIN; /* an fd is free */
        }
        if (pfds[0].revents & POLLIN) accept_all(listener);
    }
    printf("%s: closing %zu clients, exiting\n", stop_signal == SIGINT ? "SIGINT" : "SIGTERM", nfds - 1);
    for (size_t i = 1; i < nfds; i++) close(pfds[i].fd);
    close(listener);
    return 0;
}
