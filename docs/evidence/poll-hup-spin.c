/* poll reports POLLHUP, POLLERR and POLLNVAL whether or not `events` asks for them, and
 * they stay set until the program closes the fd or stops watching it. A loop that only
 * tests `revents & POLLIN` never handles them: poll returns at once, every time, and
 * the loop spins at full speed instead of sleeping. Notes: "4. poll()", "struct pollfd"
 * and "example:".
 * Run: just evidence poll-hup-spin */
#include "evidence.h"
#include <poll.h>
#include <unistd.h>

static void revents_name(short r, char *out, size_t n) {
    snprintf(out, n, "%s%s%s%s%s", r & POLLIN ? "POLLIN|" : "", r & POLLOUT ? "POLLOUT|" : "",
             r & POLLERR ? "POLLERR|" : "", r & POLLHUP ? "POLLHUP|" : "", r & POLLNVAL ? "POLLNVAL|" : "");
    size_t len = strlen(out);
    if (len > 0) out[len - 1] = '\0';
    else snprintf(out, n, "0");
}

/* A loop shaped like the notes': wait up to 1000 ms, act only on POLLIN. Returns how many
 * calls it made in `budget_ms`, and how many of those had POLLIN. */
static int spin(struct pollfd *p, double budget_ms, int *with_pollin, short *seen) {
    int calls = 0;
    *with_pollin = 0;
    double t0 = now_ms();
    while (now_ms() - t0 < budget_ms) {
        int n = poll(p, 1, 1000);
        if (n < 0) die("poll");
        calls++;
        *seen = p->revents;
        if (p->revents & POLLIN) (*with_pollin)++; /* the only flag the loop acts on */
    }
    return calls;
}

int main(void) {
    char names[64];
    int pollin;
    short seen = 0;

    /* 1. A pipe whose writer has closed, watched for POLLIN only. */
    int p[2];
    if (pipe(p) < 0) die("pipe");
    close(p[1]);
    struct pollfd pipe_fd = {.fd = p[0], .events = POLLIN};
    int calls = spin(&pipe_fd, 200, &pollin, &seen);
    revents_name(seen, names, sizeof names);
    printf("pipe, writer closed, events=POLLIN: revents=%s\n", names);
    printf("  a loop acting on POLLIN only: %d calls of poll(timeout 1000 ms) in 200 ms, %d with POLLIN\n",
           calls, pollin);
    check(seen == POLLHUP && pollin == 0, "POLLHUP comes unasked, without POLLIN");
    check(calls > 100, "poll returns at once every time: the loop spins instead of sleeping");

    /* 2. The same fd with events = 0: still reported. */
    struct pollfd nothing = {.fd = p[0], .events = 0};
    double t0 = now_ms();
    int n = poll(&nothing, 1, 1000);
    revents_name(nothing.revents, names, sizeof names);
    printf("same pipe, events=0: poll -> %d after %.0f ms, revents=%s\n", n, now_ms() - t0, names);
    check(n == 1 && nothing.revents == POLLHUP, "events=0 cannot turn POLLHUP off");
    close(p[0]);

    /* 3. An fd that was closed and is still in the array. */
    int q[2];
    if (pipe(q) < 0) die("pipe");
    close(q[0]);
    close(q[1]);
    struct pollfd closed_fd = {.fd = q[0], .events = POLLIN};
    calls = spin(&closed_fd, 200, &pollin, &seen);
    revents_name(seen, names, sizeof names);
    printf("closed fd %d, events=POLLIN: revents=%s; %d calls in 200 ms, %d with POLLIN\n", q[0], names,
           calls, pollin);
    check(seen == POLLNVAL && calls > 100, "POLLNVAL too: returned at once, forever, never POLLIN");
    return failures ? 1 : 0;
}
