/* "Ready" is a hint about the moment poll() or select() looked, not a promise about the
 * moment you read. Here another reader (a second thread, as a second process or a
 * forked worker would be) takes the data between the wait and the read: a blocking
 * read then sits there (stopped here by a 300 ms SO_RCVTIMEO, in a real server for
 * ever, with every other client frozen), where a non-blocking read fails at once with
 * EAGAIN and the loop goes back to waiting. select(2), BUGS, names other causes (a
 * datagram with a bad checksum is dropped after select reported it). So every fd in a
 * readiness loop is non-blocking.
 * Notes: "3. using select()" ("we'll get blocked until something happens").
 * Run: just evidence spurious-readiness */
#include "evidence.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static int shared_fd;

static void *other_reader(void *unused) {
    (void)unused;
    char buf[64];
    if (read(shared_fd, buf, sizeof buf) < 0) die("read (the other reader)");
    return NULL;
}

/* poll says readable; the other reader drains the socket; then we read. */
static void race(int nonblocking, ssize_t *got, int *err, double *ms) {
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0) die("socketpair");
    struct timeval limit = {0, 300000};
    setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    if (nonblocking && fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
    if (write(s[1], "one line\n", 9) != 9) die("write");
    struct pollfd p = {.fd = s[0], .events = POLLIN};
    int n = poll(&p, 1, 1000);
    printf("  poll -> %d, revents=%s\n", n, p.revents == POLLIN ? "POLLIN" : "other");
    shared_fd = s[0];
    pthread_t t;
    if (pthread_create(&t, NULL, other_reader, NULL) != 0) die("pthread_create");
    pthread_join(t, NULL);
    printf("  (another reader took the line)\n");
    char buf[64];
    double t0 = now_ms();
    *got = read(s[0], buf, sizeof buf);
    *err = *got < 0 ? errno : 0;
    *ms = now_ms() - t0;
    if (*got < 0) printf("  read -> -1 %s after %.1f ms\n", strerrorname_np(*err), *ms);
    else printf("  read -> %zd after %.1f ms\n", *got, *ms);
    close(s[0]);
    close(s[1]);
}

int main(void) {
    ssize_t got;
    int err;
    double ms;
    printf("a blocking socket:\n");
    race(0, &got, &err, &ms);
    check(got < 0 && err == EAGAIN && ms >= 250,
          "after POLLIN, a blocking read blocked (until the 300 ms receive timeout)");
    printf("a non-blocking socket:\n");
    race(1, &got, &err, &ms);
    check(got < 0 && err == EAGAIN && ms < 150, "a non-blocking read says EAGAIN at once: back to poll");
    return failures ? 1 : 0;
}
