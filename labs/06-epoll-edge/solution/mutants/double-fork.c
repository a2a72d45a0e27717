/* double-fork: an "edge-triggered epoll" echo server whose epoll loop only accepts.
Breaks: one process, one thread. Each client is served by a grandchild process
(forked twice, so it is nobody's child and there is nothing to reap) doing blocking
read() and write(); the server itself keeps no client socket open. Every echo is
right.
caught-by: one-thread
*/

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
#include <sys/wait.h>
#include <unistd.h>

static void serve(int fd) {
    char buf[4096];
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w <= 0) _exit(0);
            off += w;
        }
    }
    _exit(0);
}

int main(int argc, char **argv) {
    const char *at = argc == 3 ? argv[2] : "127.0.0.1:7000";
    char host[64];
    const char *colon = strrchr(at, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - at), at);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(colon + 1))};
    inet_pton(AF_INET, host, &addr.sin_addr);
    signal(SIGPIPE, SIG_IGN);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, SOMAXCONN) < 0) {
        perror("listen");
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(l, (struct sockaddr *)&addr, &len);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("listening on %s:%d\n", host, ntohs(addr.sin_port));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLET, .data.fd = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &lev);
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd != l) {
                if (evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                    close(fd);
                }
                continue;
            }
            for (;;) {
                int c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0) break;
                int go[2];
                if (pipe(go) < 0) { close(c); continue; }
                pid_t child = fork();
                if (child == 0) {
                    close(l);
                    close(ep);
                    if (fork() == 0) {
                        char b;
                        close(go[1]);
                        read(go[0], &b, 1); /* start once our parent is reaped */
                        close(go[0]);
                        serve(c);
                    }
                    _exit(0);
                }
                if (child > 0) waitpid(child, NULL, 0);
                close(go[0]);
                close(go[1]);
                struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
            }
        }
    }
}
