/* What poll() reports for each way a peer can leave, and for fds that are not open.
 * A TCP peer's close() is POLLIN|POLLRDHUP, not POLLHUP: POLLHUP comes with a reset
 * (with POLLERR), once both directions are shut, on a pipe whose writer left, on a
 * Unix socket whose peer closed. POLLNVAL means "this fd is not open"; a negative fd is
 * skipped; a socket never connected reports POLLOUT|POLLHUP.
 * Notes: "4. poll()" -> "struct pollfd"; "3. using select()" (read returns 0 "or a
 * negative number"). Run: just evidence poll-revents */
#include "evidence.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static void flags(short r, char *out, size_t size) {
    static const struct {
        short bit;
        const char *name;
    } names[] = {
        {POLLIN, "POLLIN"},   {POLLPRI, "POLLPRI"}, {POLLOUT, "POLLOUT"},   {POLLRDHUP, "POLLRDHUP"},
        {POLLERR, "POLLERR"}, {POLLHUP, "POLLHUP"}, {POLLNVAL, "POLLNVAL"},
    };
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (r & names[i].bit) {
            if (out[0]) strncat(out, "|", size - strlen(out) - 1);
            strncat(out, names[i].name, size - strlen(out) - 1);
        }
    if (!out[0]) snprintf(out, size, "0");
}

/* Polls `fd` for POLLIN|POLLRDHUP (timeout 1 s), then reads it without blocking, and
 * prints both answers. Returns revents. */
static short show(const char *how, int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    int n = poll(&p, 1, fd < 0 ? 0 : 1000);
    if (n < 0) die("poll");
    char f[96];
    flags(p.revents, f, sizeof f);
    char r[64] = "";
    if (fd >= 0 && !(p.revents & POLLNVAL)) {
        char buf[16];
        ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got < 0 && errno == ENOTSOCK) got = read(fd, buf, sizeof buf);
        if (got < 0) snprintf(r, sizeof r, "; read -> -1 %s", strerrorname_np(errno));
        else snprintf(r, sizeof r, "; read -> %zd", got);
    }
    printf("%-42s poll -> %d, revents=%s%s\n", how, n, f, r);
    return p.revents;
}

/* A connected pair of TCP sockets on loopback: *a is ours, *b the peer's. */
static void tcp_pair(int *a, int *b) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (l < 0 || bind(l, (struct sockaddr *)&addr, len) < 0 || listen(l, 1) < 0) die("listen");
    if (getsockname(l, (struct sockaddr *)&addr, &len) < 0) die("getsockname");
    *a = socket(AF_INET, SOCK_STREAM, 0);
    if (*a < 0 || connect(*a, (struct sockaddr *)&addr, len) < 0) die("connect");
    *b = accept(l, NULL, NULL);
    if (*b < 0) die("accept");
    close(l);
}

int main(void) {
    int a, b;
    short r;

    tcp_pair(&a, &b);
    close(b);
    r = show("TCP, the peer called close():", a);
    check(r == (POLLIN | POLLRDHUP), "a TCP peer's close() is POLLIN|POLLRDHUP, no POLLHUP");
    close(a);

    tcp_pair(&a, &b);
    if (send(b, "bye\n", 4, 0) != 4) die("send");
    close(b);
    r = show("TCP, the peer sent 4 bytes, then close():", a);
    check(r == (POLLIN | POLLRDHUP), "data, then a close: the same flags, and the data is read first");
    close(a);

    tcp_pair(&a, &b);
    shutdown(b, SHUT_WR);
    r = show("TCP, the peer called shutdown(SHUT_WR):", a);
    check(r == (POLLIN | POLLRDHUP), "the peer's shutdown(SHUT_WR) looks like its close()");
    shutdown(a, SHUT_WR);
    r = show("TCP, then we shut our side too:", a);
    check((r & POLLHUP) && !(r & POLLERR), "both directions shut: POLLHUP");
    close(a);
    close(b);

    tcp_pair(&a, &b);
    struct linger hard = {.l_onoff = 1, .l_linger = 0};
    if (setsockopt(b, SOL_SOCKET, SO_LINGER, &hard, sizeof hard) < 0) die("setsockopt SO_LINGER");
    close(b); /* with SO_LINGER 0: a reset (RST), not an orderly close */
    r = show("TCP, the peer reset the connection:", a);
    check((r & POLLHUP) && (r & POLLERR), "a reset is POLLERR|POLLHUP, and read fails (ECONNRESET)");
    close(a);

    int p[2];
    if (pipe(p) < 0) die("pipe");
    close(p[1]);
    r = show("pipe, the writer closed its end:", p[0]);
    check(r == POLLHUP, "a pipe whose writer left: POLLHUP alone");
    close(p[0]);

    int u[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, u) < 0) die("socketpair");
    close(u[1]);
    r = show("Unix stream socket, the peer closed:", u[0]);
    check((r & POLLHUP) && (r & POLLRDHUP), "a Unix socket whose peer closed: POLLHUP with POLLRDHUP");
    close(u[0]);

    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) die("socket");
    r = show("TCP socket, never connected:", s);
    check((r & POLLHUP) && !(r & POLLNVAL), "a socket never connected is not POLLNVAL");
    close(s);

    int gone = open("/dev/null", O_RDONLY);
    if (gone < 0) die("open /dev/null");
    close(gone);
    r = show("an fd number that is not open:", gone);
    check(r == POLLNVAL, "POLLNVAL means the fd is not open");
    r = show("fd = -1 (how to skip an entry):", -1);
    check(r == 0, "a negative fd is skipped: revents 0");
    return failures ? 1 : 0;
}
