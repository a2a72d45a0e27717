/* Waking a thread that sleeps in poll(): give the wait one more fd that you control and
 * write to it. The self-pipe trick does it from a signal handler (write() is
 * async-signal-safe; the byte stays in the pipe even when the signal lands just before
 * poll starts, the race pselect closes another way); an eventfd does it from another
 * thread with one fd instead of two. curl_multi_wakeup is the same idea inside libcurl
 * (`just evidence curl-wait-vs-poll`).
 * Notes: "4. pselect()" (the signal mask), "4. curl_multi_wait()".
 * Run: just evidence wakeup */
#include "evidence.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int self_pipe[2];
static int efd;

static void on_alarm(int sig) {
    (void)sig;
    int saved = errno;
    (void)!write(self_pipe[1], "!", 1); /* non-blocking: a full pipe already wakes poll */
    errno = saved;
}

static void *wake_after_100ms(void *unused) {
    (void)unused;
    struct timespec d = {0, 100 * 1000000L};
    nanosleep(&d, NULL);
    uint64_t one = 1;
    if (write(efd, &one, sizeof one) != sizeof one) die("write eventfd");
    return NULL;
}

int main(void) {
    printf("-- the self-pipe trick: SIGALRM's handler writes a byte; poll(timeout 3 s) on the pipe\n");
    if (pipe2(self_pipe, O_NONBLOCK | O_CLOEXEC) < 0) die("pipe2");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) < 0) die("sigaction");
    /* The signal arrives BEFORE the wait starts: the case that loses a flag-only handler. */
    raise(SIGALRM);
    double t0 = now_ms();
    struct pollfd p = {.fd = self_pipe[0], .events = POLLIN};
    int n = poll(&p, 1, 3000);
    double ms = now_ms() - t0;
    char c;
    ssize_t got = read(self_pipe[0], &c, 1);
    printf("signal raised before poll; poll -> %d after %.1f ms, revents=%s; read the byte: %zd\n", n, ms,
           p.revents & POLLIN ? "POLLIN" : "0", got);
    check(n == 1 && ms < 250, "a signal that came before the wait still wakes it, through the pipe");

    printf("-- eventfd: another thread writes 1 at 100 ms; poll(timeout 3 s) on the eventfd\n");
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) die("eventfd");
    pthread_t t;
    t0 = now_ms();
    if (pthread_create(&t, NULL, wake_after_100ms, NULL) != 0) die("pthread_create");
    p.fd = efd;
    p.revents = 0;
    n = poll(&p, 1, 3000);
    ms = now_ms() - t0;
    pthread_join(t, NULL);
    uint64_t count = 0;
    if (read(efd, &count, sizeof count) != sizeof count) die("read eventfd");
    printf("poll -> %d after %.1f ms, revents=%s; read the counter: %llu\n", n, ms,
           p.revents & POLLIN ? "POLLIN" : "0", (unsigned long long)count);
    check(n == 1 && ms >= 90 && ms < 1500, "a write to the eventfd ends another thread's poll");
    close(self_pipe[0]);
    close(self_pipe[1]);
    close(efd);
    return failures ? 1 : 0;
}
