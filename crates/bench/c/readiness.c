/*
 * The readiness loops of the bench's part 1, written in C, so that the Rust versions
 * (crates/bench/src/readiness.rs) can be compared with what a C programmer would write.
 * Each function does exactly what its Rust twin does, call for call:
 *
 *   *_once:  `iters` times: (re)build what the call needs, wait with timeout 0, then
 *            find the ready fds. One fd (the last in `fds`) always has data.
 *   *_chain: a one-byte token starts in pipe 0; each hop waits, finds the one ready
 *            pipe k, reads the byte and writes it to pipe k+1 (wrapping), like libevent's
 *            classic bench. At the end the token is read back out of the pipe it must
 *            be in (hops % n), leaving every pipe empty.
 *
 * Every function returns the number of ready fds it saw (so the work cannot be
 * optimised away and the caller can check it), or -errno on failure
 * (-EPROTO: the token went missing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

static int max_fd(const int *fds, int n) {
    int max = -1;
    for (int k = 0; k < n; k++)
        if (fds[k] > max)
            max = fds[k];
    return max;
}

long aiolab_select_once(const int *fds, int n, long iters) {
    int nfds = max_fd(fds, n) + 1;
    long seen = 0;
    for (long i = 0; i < iters; i++) {
        fd_set readable;
        FD_ZERO(&readable);
        for (int k = 0; k < n; k++)
            FD_SET(fds[k], &readable);
        struct timeval zero = {0, 0};
        int ready = select(nfds, &readable, NULL, NULL, &zero);
        if (ready < 0)
            return -errno;
        for (int k = 0, found = 0; k < n && found < ready; k++)
            if (FD_ISSET(fds[k], &readable)) {
                found++;
                seen++;
            }
    }
    return seen;
}

long aiolab_pselect_once(const int *fds, int n, long iters) {
    int nfds = max_fd(fds, n) + 1;
    sigset_t mask;
    if (sigprocmask(SIG_BLOCK, NULL, &mask) < 0)
        return -errno;
    long seen = 0;
    for (long i = 0; i < iters; i++) {
        fd_set readable;
        FD_ZERO(&readable);
        for (int k = 0; k < n; k++)
            FD_SET(fds[k], &readable);
        struct timespec zero = {0, 0};
        int ready = pselect(nfds, &readable, NULL, NULL, &zero, &mask);
        if (ready < 0)
            return -errno;
        for (int k = 0, found = 0; k < n && found < ready; k++)
            if (FD_ISSET(fds[k], &readable)) {
                found++;
                seen++;
            }
    }
    return seen;
}

long aiolab_poll_once(const int *fds, int n, long iters) {
    struct pollfd *watched = calloc((size_t)n, sizeof *watched);
    if (!watched)
        return -ENOMEM;
    for (int k = 0; k < n; k++) {
        watched[k].fd = fds[k];
        watched[k].events = POLLIN;
    }
    long seen = 0;
    for (long i = 0; i < iters; i++) {
        int ready = poll(watched, (nfds_t)n, 0);
        if (ready < 0) {
            int err = errno;
            free(watched);
            return -err;
        }
        for (int k = 0, found = 0; k < n && found < ready; k++)
            if (watched[k].revents & POLLIN) {
                found++;
                seen++;
            }
    }
    free(watched);
    return seen;
}

long aiolab_epoll_once(int epfd, long iters) {
    struct epoll_event events[64];
    long seen = 0;
    for (long i = 0; i < iters; i++) {
        int ready = epoll_wait(epfd, events, 64, 0);
        if (ready < 0)
            return -errno;
        for (int j = 0; j < ready; j++)
            if (events[j].events & EPOLLIN)
                seen++;
    }
    return seen;
}

/* Moves the token from pipe `from` to the next one. */
static int pass_token(const int *rfds, const int *wfds, int n, int from) {
    char token;
    if (read(rfds[from], &token, 1) != 1)
        return -EPROTO;
    if (write(wfds[(from + 1) % n], &token, 1) != 1)
        return -EPROTO;
    return 0;
}

/* Reads the token back out after `hops` hops from pipe 0: it is in pipe hops % n. */
static int take_token(const int *rfds, int n, long hops) {
    char token;
    return read(rfds[hops % n], &token, 1) == 1 ? 0 : -EPROTO;
}

long aiolab_select_chain(const int *rfds, const int *wfds, int n, long hops) {
    int nfds = max_fd(rfds, n) + 1;
    if (write(wfds[0], "t", 1) != 1)
        return -errno;
    long seen = 0;
    for (long i = 0; i < hops; i++) {
        fd_set readable;
        FD_ZERO(&readable);
        for (int k = 0; k < n; k++)
            FD_SET(rfds[k], &readable);
        struct timeval zero = {0, 0};
        int ready = select(nfds, &readable, NULL, NULL, &zero);
        if (ready < 0)
            return -errno;
        int k = 0;
        while (k < n && !FD_ISSET(rfds[k], &readable))
            k++;
        if (k == n)
            return -EPROTO;
        seen++;
        int err = pass_token(rfds, wfds, n, k);
        if (err)
            return err;
    }
    int err = take_token(rfds, n, hops);
    return err ? err : seen;
}

long aiolab_pselect_chain(const int *rfds, const int *wfds, int n, long hops) {
    int nfds = max_fd(rfds, n) + 1;
    sigset_t mask;
    if (sigprocmask(SIG_BLOCK, NULL, &mask) < 0)
        return -errno;
    if (write(wfds[0], "t", 1) != 1)
        return -errno;
    long seen = 0;
    for (long i = 0; i < hops; i++) {
        fd_set readable;
        FD_ZERO(&readable);
        for (int k = 0; k < n; k++)
            FD_SET(rfds[k], &readable);
        struct timespec zero = {0, 0};
        int ready = pselect(nfds, &readable, NULL, NULL, &zero, &mask);
        if (ready < 0)
            return -errno;
        int k = 0;
        while (k < n && !FD_ISSET(rfds[k], &readable))
            k++;
        if (k == n)
            return -EPROTO;
        seen++;
        int err = pass_token(rfds, wfds, n, k);
        if (err)
            return err;
    }
    int err = take_token(rfds, n, hops);
    return err ? err : seen;
}

long aiolab_poll_chain(const int *rfds, const int *wfds, int n, long hops) {
    struct pollfd *watched = calloc((size_t)n, sizeof *watched);
    if (!watched)
        return -ENOMEM;
    for (int k = 0; k < n; k++) {
        watched[k].fd = rfds[k];
        watched[k].events = POLLIN;
    }
    long result = 0;
    if (write(wfds[0], "t", 1) != 1) {
        result = -errno;
        goto out;
    }
    for (long i = 0; i < hops; i++) {
        int ready = poll(watched, (nfds_t)n, 0);
        if (ready < 0) {
            result = -errno;
            goto out;
        }
        int k = 0;
        while (k < n && !(watched[k].revents & POLLIN))
            k++;
        if (k == n) {
            result = -EPROTO;
            goto out;
        }
        result++;
        int err = pass_token(rfds, wfds, n, k);
        if (err) {
            result = err;
            goto out;
        }
    }
    int err = take_token(rfds, n, hops);
    if (err)
        result = err;
out:
    free(watched);
    return result;
}

/* The epoll instance's entries carry each pipe's index in data.u64. */
long aiolab_epoll_chain(int epfd, const int *rfds, const int *wfds, int n, long hops) {
    struct epoll_event events[64];
    if (write(wfds[0], "t", 1) != 1)
        return -errno;
    long seen = 0;
    for (long i = 0; i < hops; i++) {
        int ready = epoll_wait(epfd, events, 64, 0);
        if (ready < 0)
            return -errno;
        if (ready < 1 || events[0].data.u64 >= (unsigned long)n)
            return -EPROTO;
        seen++;
        int err = pass_token(rfds, wfds, n, (int)events[0].data.u64);
        if (err)
            return err;
    }
    int err = take_token(rfds, n, hops);
    return err ? err : seen;
}
