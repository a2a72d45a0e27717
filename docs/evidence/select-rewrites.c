/* select() answers by overwriting its arguments: the sets keep only the ready fds, and
 * on Linux the timeout becomes the time that was left, so a loop that sets it once
 * waits less each time, then not at all. Its return value counts set memberships (an
 * fd ready to read and to write counts twice). exceptfds is for "exceptional
 * conditions", which on a TCP socket means out-of-band data, not errors: a reset
 * connection shows up as readable.
 * Notes: "3. using select()" -> "select()" and "Example:".
 * Run: just evidence select-rewrites */
#include "evidence.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

static int pipe_w;

static void *write_after_100ms(void *unused) {
    (void)unused;
    struct timespec d = {0, 100 * 1000000L};
    nanosleep(&d, NULL);
    if (write(pipe_w, "x", 1) != 1) die("write");
    return NULL;
}

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
    int p[2];
    if (pipe(p) < 0) die("pipe");
    pipe_w = p[1];

    printf("-- the timeout: set to 0.300 s once, outside the loop, on a pipe nobody writes to\n");
    struct timeval tv = {0, 300000};
    double waited[3];
    for (int i = 0; i < 3; i++) {
        fd_set r;
        FD_ZERO(&r);
        FD_SET(p[0], &r);
        double t0 = now_ms();
        int n = select(p[0] + 1, &r, NULL, NULL, &tv);
        waited[i] = now_ms() - t0;
        printf("select #%d -> %d after %5.1f ms; the timeout now holds %ld.%06ld s\n", i + 1, n, waited[i],
               (long)tv.tv_sec, (long)tv.tv_usec);
    }
    check(waited[0] >= 250 && waited[1] < 150 && tv.tv_sec == 0 && tv.tv_usec == 0,
          "after one full wait the timeout is 0, and the next select returns at once");

    printf("-- woken early: timeout 0.500 s, a thread writes to the pipe at 0.100 s\n");
    tv.tv_sec = 0;
    tv.tv_usec = 500000;
    pthread_t t;
    if (pthread_create(&t, NULL, write_after_100ms, NULL) != 0) die("pthread_create");
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    int n = select(p[0] + 1, &r, NULL, NULL, &tv);
    pthread_join(t, NULL);
    printf("select -> %d; the timeout now holds %ld.%06ld s (the time that was left)\n", n, (long)tv.tv_sec,
           (long)tv.tv_usec);
    check(n == 1 && tv.tv_usec > 0 && tv.tv_usec < 420000, "the timeout is rewritten to the time left");

    printf("-- pselect: the same wait with a struct timespec of 0.100 s\n");
    {
        fd_set e;
        FD_ZERO(&e);
        int empty[2];
        if (pipe(empty) < 0) die("pipe");
        FD_SET(empty[0], &e);
        struct timespec ts = {0, 100 * 1000000L};
        int got = pselect(empty[0] + 1, &e, NULL, NULL, &ts, NULL);
        printf("pselect -> %d; the timeout still holds %ld.%09ld s\n", got, (long)ts.tv_sec, ts.tv_nsec);
        check(got == 0 && ts.tv_sec == 0 && ts.tv_nsec == 100 * 1000000L, "pselect leaves its timeout alone (it is const)");
        close(empty[0]);
        close(empty[1]);
    }

    printf("-- the sets: watch the pipe (now readable) and a second, empty pipe\n");
    int q[2];
    if (pipe(q) < 0) die("pipe");
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    FD_SET(q[0], &r);
    struct timeval zero = {0, 0};
    n = select((p[0] > q[0] ? p[0] : q[0]) + 1, &r, NULL, NULL, &zero);
    printf("select -> %d; fd %d still in the set: %s; fd %d still in the set: %s\n", n, p[0],
           FD_ISSET(p[0], &r) ? "yes" : "no", q[0], FD_ISSET(q[0], &r) ? "yes" : "no");
    check(n == 1 && FD_ISSET(p[0], &r) && !FD_ISSET(q[0], &r), "the set keeps only the ready fds");

    printf("-- the count: one socket with data to read and room to write, in both sets\n");
    int a, b;
    tcp_pair(&a, &b);
    if (send(b, "hi", 2, 0) != 2) die("send");
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(a, &rd);
    FD_SET(a, &wr);
    struct timeval second = {1, 0};
    n = select(a + 1, &rd, &wr, NULL, &second);
    printf("select -> %d for one fd (readable: %s, writable: %s)\n", n, FD_ISSET(a, &rd) ? "yes" : "no",
           FD_ISSET(a, &wr) ? "yes" : "no");
    check(n == 2, "select counts an fd once per set it is ready in");
    close(a);
    close(b);

    printf("-- exceptfds: a reset connection, then out-of-band data\n");
    tcp_pair(&a, &b);
    struct linger hard = {.l_onoff = 1, .l_linger = 0};
    if (setsockopt(b, SOL_SOCKET, SO_LINGER, &hard, sizeof hard) < 0) die("setsockopt");
    close(b);
    fd_set ex;
    FD_ZERO(&rd);
    FD_ZERO(&ex);
    FD_SET(a, &rd);
    FD_SET(a, &ex);
    second.tv_sec = 1;
    second.tv_usec = 0;
    n = select(a + 1, &rd, NULL, &ex, &second);
    printf("reset: select -> %d (in readfds: %s, in exceptfds: %s)\n", n, FD_ISSET(a, &rd) ? "yes" : "no",
           FD_ISSET(a, &ex) ? "yes" : "no");
    check(FD_ISSET(a, &rd) && !FD_ISSET(a, &ex), "an error (a reset) is reported as readable, not exceptional");
    close(a);
    tcp_pair(&a, &b);
    if (send(b, "!", 1, MSG_OOB) != 1) die("send MSG_OOB");
    FD_ZERO(&ex);
    FD_SET(a, &ex);
    second.tv_sec = 1;
    second.tv_usec = 0;
    n = select(a + 1, NULL, NULL, &ex, &second);
    printf("out-of-band byte: select -> %d (in exceptfds: %s)\n", n, FD_ISSET(a, &ex) ? "yes" : "no");
    check(n == 1 && FD_ISSET(a, &ex), "exceptfds reports TCP out-of-band (urgent) data");
    close(a);
    close(b);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    return failures ? 1 : 0;
}
