/* Writing to a socket or pipe whose reader has gone raises SIGPIPE, and SIGPIPE's
 * default action ends the process: a C chat server dies the moment it relays a line to
 * a client that just left, without a word. Ignore the signal (or send with MSG_NOSIGNAL)
 * and the write fails with EPIPE instead, which the server can handle. Rust programs
 * start with SIGPIPE ignored (see `just evidence sigpipe-rust`).
 * Notes: "3. using select()", the chat server ("a write to the sockets that represent
 * connected clients"). Run: just evidence sigpipe */
#include "evidence.h"
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* In a child: a socket pair whose reader is closed, then one write. Returns how the
 * child ended; the child prints what the write returned, if it returned. */
static int child_writes(int ignore, int flags) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        signal(SIGPIPE, ignore ? SIG_IGN : SIG_DFL); /* not inherited as set by the parent */
        int s[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0) die("socketpair");
        close(s[1]); /* the client left */
        ssize_t n = send(s[0], "hello\n", 6, flags);
        printf("  send -> %zd %s\n", n, n < 0 ? strerrorname_np(errno) : "");
        fflush(stdout);
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) die("waitpid");
    if (WIFSIGNALED(status)) printf("  the writer was killed by %s (signal %d)\n", sigabbrev_np(WTERMSIG(status)), WTERMSIG(status));
    else printf("  the writer exited with status %d\n", WEXITSTATUS(status));
    return status;
}

int main(void) {
    printf("default SIGPIPE action, send() to a peer that closed:\n");
    int st = child_writes(0, 0);
    check(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, "the default action kills the writer (no error, no output)");
    printf("signal(SIGPIPE, SIG_IGN), the same send():\n");
    st = child_writes(1, 0);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "with SIGPIPE ignored, send fails with EPIPE and the writer lives");
    printf("default action, send(..., MSG_NOSIGNAL):\n");
    st = child_writes(0, MSG_NOSIGNAL);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "MSG_NOSIGNAL gives EPIPE without the signal, for one call");
    return failures ? 1 : 0;
}
