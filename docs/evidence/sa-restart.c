/* SA_RESTART makes the kernel restart a read() that a signal handler interrupted, but
 * never poll(), select() or epoll_wait(): those fail with EINTR whatever the flag says
 * (signal(7), "Interruption of system calls and library functions by signal handlers").
 * So every wait loop must treat EINTR as "nothing ready, go round again"; the notes'
 * select example treats every -1 as fatal and would end the server.
 * Notes: "3. using select()" -> "Example:" (res == -1), "4. pselect()".
 * Run: just evidence sa-restart */
#include "evidence.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static pthread_t main_thread;
static int pipe_r, pipe_w;

static void on_signal(int sig) {
    (void)sig;
    handled++;
}

/* The interrupter: SIGUSR1 to the main thread at 100 ms, then one byte into the pipe at
 * 200 ms (so a restarted read has something to return). */
static void *interrupt(void *unused) {
    (void)unused;
    struct timespec d = {0, 100 * 1000000L};
    nanosleep(&d, NULL);
    pthread_kill(main_thread, SIGUSR1);
    nanosleep(&d, NULL);
    if (write(pipe_w, "x", 1) != 1) die("write");
    return NULL;
}

static void install(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) < 0) die("sigaction");
}

/* Runs `call` on the empty pipe with the interrupter going, prints what it returned. */
static int attempt(const char *name, int which, int *err, double *ms) {
    int fds[2];
    if (pipe(fds) < 0) die("pipe");
    pipe_r = fds[0];
    pipe_w = fds[1];
    handled = 0;
    pthread_t t;
    double t0 = now_ms();
    if (pthread_create(&t, NULL, interrupt, NULL) != 0) die("pthread_create");
    long r = -1;
    char c;
    if (which == 0) {
        r = read(pipe_r, &c, 1);
    } else if (which == 1) {
        struct pollfd p = {.fd = pipe_r, .events = POLLIN};
        r = poll(&p, 1, 1000);
    } else if (which == 2) {
        fd_set s;
        FD_ZERO(&s);
        FD_SET(pipe_r, &s);
        struct timeval tv = {1, 0};
        r = select(pipe_r + 1, &s, NULL, NULL, &tv);
    } else {
        int ep = epoll_create1(0);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = pipe_r}, out;
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, pipe_r, &ev) < 0) die("epoll");
        r = epoll_wait(ep, &out, 1, 1000);
        close(ep);
    }
    *err = r < 0 ? errno : 0;
    *ms = now_ms() - t0;
    pthread_join(t, NULL);
    if (r < 0) printf("  %-12s -> -1 %s after %5.1f ms (handler ran %d time)\n", name, strerrorname_np(*err), *ms, handled);
    else printf("  %-12s -> %ld after %5.1f ms (handler ran %d time)\n", name, r, *ms, handled);
    close(pipe_r);
    close(pipe_w);
    return (int)r;
}

int main(void) {
    main_thread = pthread_self();
    int err;
    double ms;
    const char *names[] = {"read()", "poll()", "select()", "epoll_wait()"};

    printf("handler installed WITH SA_RESTART; SIGUSR1 at 100 ms, data at 200 ms:\n");
    install(SA_RESTART);
    int r = attempt(names[0], 0, &err, &ms);
    check(r == 1 && ms >= 150, "read() is restarted after the handler and returns the data");
    for (int i = 1; i < 4; i++) {
        r = attempt(names[i], i, &err, &ms);
        char claim[96];
        snprintf(claim, sizeof claim, "%s fails with EINTR despite SA_RESTART", names[i]);
        check(r == -1 && err == EINTR, claim);
    }
    printf("handler installed WITHOUT SA_RESTART:\n");
    install(0);
    r = attempt(names[0], 0, &err, &ms);
    check(r == -1 && err == EINTR, "without SA_RESTART read() fails with EINTR too");
    return failures ? 1 : 0;
}
