/*
 * moderation.c: lab 2's reference solution in C. The select() chat server with an
 * operator, /msg, /kick and /ban (notes: "3. using select()").
 *
 * Build and mark it:
 *     make -C labs/02-moderation/solution/c
 *     just lab moderation -- ./labs/02-moderation/solution/c/moderation
 * Run it:  ./moderation --listen 127.0.0.1:7000   and   nc 127.0.0.1 7000
 *
 * The same design as the Rust starter and solution: every socket non-blocking, one
 * select() the only place that waits, an output queue per client flushed when select()
 * says the socket is writable. Clients are kept in an array indexed by fd (select()
 * cannot watch an fd >= FD_SETSIZE anyway, so such clients are refused), which also
 * makes "every client in fd order" a plain loop.
 */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINE 512        /* longer lines are cut here */
#define OUTPUT_LIMIT 65536  /* a client this far behind is dropped */
#define MAX_BANS 256
#define COMMANDS "commands: /nick NAME, /who, /quit"

struct client {
    int used;
    char nick[17];
    struct in_addr ip;    /* what a ban is about: the port changes on every connect */
    char in[MAX_LINE];    /* the unfinished line */
    size_t inlen;
    int discarding;       /* after a cut, until the newline */
    char *out;            /* queued output */
    size_t outlen, outcap;
    int leaving;          /* said goodbye: read no more, close once `out` is written */
};

static struct client clients[FD_SETSIZE];
static int listener;
static int operator_fd = -1; /* the first client, while it stays */
static unsigned next_guest = 1;
static struct in_addr banned[MAX_BANS];
static int nbanned;

static void remove_client(int fd, const char *why);

/* Queues one line for one client. */
static void tell(int fd, const char *line) {
    struct client *c = &clients[fd];
    if (!c->used) return;
    size_t len = strlen(line);
    if (c->outlen + len + 1 > c->outcap) {
        size_t cap = (c->outlen + len + 1) * 2;
        char *out = realloc(c->out, cap);
        if (out == NULL) {
            remove_client(fd, "out of memory");
            return;
        }
        c->out = out;
        c->outcap = cap;
    }
    memcpy(c->out + c->outlen, line, len);
    c->out[c->outlen + len] = '\n';
    c->outlen += len + 1;
    if (c->outlen > OUTPUT_LIMIT) remove_client(fd, "stopped reading");
}

/* Formats, then tells. */
static void tellf(int fd, const char *fmt, ...) {
    char line[MAX_LINE + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    tell(fd, line);
}

/* Queues one line for every client except `except` (-1: nobody) and those leaving. */
static void broadcast(int except, const char *line) {
    for (int fd = 0; fd < FD_SETSIZE; fd++)
        if (clients[fd].used && !clients[fd].leaving && fd != except) tell(fd, line);
}

/* Closes fd now; tells the others unless it already said goodbye. */
static void remove_client(int fd, const char *why) {
    struct client *c = &clients[fd];
    if (!c->used) return;
    c->used = 0;
    if (operator_fd == fd) operator_fd = -1; /* the next client may get this fd number */
    printf("fd %d: %s left: %s\n", fd, c->nick, why);
    close(fd);
    free(c->out);
    c->out = NULL;
    c->outlen = c->outcap = 0;
    if (!c->leaving) {
        char line[64];
        if (strcmp(why, "stopped reading") == 0)
            snprintf(line, sizeof line, "* %s was disconnected (not reading)", c->nick);
        else
            snprintf(line, sizeof line, "* %s left", c->nick);
        broadcast(-1, line);
    }
}

/* The goodbye to fd; it is closed once that is written. */
static void say_goodbye(int fd, const char *goodbye) {
    tell(fd, goodbye);
    if (clients[fd].used) clients[fd].leaving = 1;
}

static int find(const char *nick) {
    for (int fd = 0; fd < FD_SETSIZE; fd++)
        if (clients[fd].used && !clients[fd].leaving && strcmp(clients[fd].nick, nick) == 0) return fd;
    return -1;
}

/* Strips terminal escapes and control characters (a tab becomes a space), in place,
 * and trims spaces at both ends. */
static void clean(char *s) {
    char *w = s;
    for (char *r = s; *r; r++) {
        unsigned char ch = (unsigned char)*r;
        if (ch == 0x1b) {
            if (r[1] == '[') { /* CSI: parameters up to a final byte @..~ */
                r += 2;
                while (*r && !(*r >= '@' && *r <= '~')) r++;
            } else if (r[1] == ']') { /* OSC: up to BEL or ESC \ */
                r += 2;
                while (*r && *r != 0x07 && !(*r == 0x1b && r[1] == '\\')) r++;
                if (*r == 0x1b) r++;
            } else if (r[1]) {
                r++; /* a two-character ESC x */
            }
            if (!*r) break;
        } else if (ch == '\t') {
            *w++ = ' ';
        } else if (ch >= 0x20 && ch != 0x7f) {
            *w++ = (char)ch;
        }
    }
    *w = '\0';
    while (w > s && w[-1] == ' ') *--w = '\0';
    size_t lead = strspn(s, " ");
    memmove(s, s + lead, strlen(s + lead) + 1);
}

static int valid_nick(const char *nick) {
    size_t len = strlen(nick);
    if (len < 1 || len > 16) return 0;
    for (const char *p = nick; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

/* /kick NICK and /ban NICK, checked in the README's order. */
static void sanction(int fd, const char *arg, int ban) {
    const char *cmd = ban ? "/ban" : "/kick", *done = ban ? "banned" : "kicked";
    const char *op = clients[fd].nick;
    if (operator_fd != fd) { tellf(fd, "* %s refused: you are not the operator", cmd); return; }
    if (!*arg || strchr(arg, ' ')) { tellf(fd, "* usage: %s NICK", cmd); return; }
    int target = find(arg);
    if (target < 0) { tellf(fd, "* no such nick: %s", arg); return; }
    if (target == fd) { tellf(fd, "* %s refused: that is you", cmd); return; }
    struct in_addr ip = clients[target].ip;
    int targets[FD_SETSIZE], n = 0;
    if (ban) {
        if (clients[fd].ip.s_addr == ip.s_addr)
            { tellf(fd, "* /ban refused: %s connects from your own address", arg); return; }
        if (nbanned < MAX_BANS) banned[nbanned++] = ip;
        for (int other = 0; other < FD_SETSIZE; other++)
            if (clients[other].used && !clients[other].leaving && clients[other].ip.s_addr == ip.s_addr)
                targets[n++] = other;
    } else {
        targets[n++] = target;
    }
    /* All of them leave first, so none hears about the others; then one notice each. */
    char line[MAX_LINE];
    snprintf(line, sizeof line, "* you were %s by %s", done, op);
    for (int i = 0; i < n; i++) say_goodbye(targets[i], line);
    for (int i = 0; i < n; i++) {
        snprintf(line, sizeof line, "* %s was %s by %s", clients[targets[i]].nick, done, op);
        printf("fd %d: %s\n", targets[i], line + 2);
        broadcast(-1, line);
    }
}

static void handle_line(int fd, char *text) {
    clean(text);
    if (!*text) return;
    char line[MAX_LINE + 64];
    const char *nick = clients[fd].nick;
    if (text[0] != '/') {
        snprintf(line, sizeof line, "<%s> %s", nick, text);
        broadcast(fd, line);
        return;
    }
    char *arg = strchr(text, ' ');
    if (arg) {
        *arg++ = '\0';
        clean(arg); /* trims */
    } else {
        arg = "";
    }
    if (strcmp(text, "/nick") == 0) {
        const char *why = NULL;
        if (!valid_nick(arg)) why = "use 1-16 letters, digits, _ or -";
        for (int other = 0; !why && other < FD_SETSIZE; other++)
            if (other != fd && clients[other].used && strcmp(clients[other].nick, arg) == 0) why = "taken";
        if (why) { tellf(fd, "* nick \"%s\" refused: %s", arg, why); return; }
        snprintf(line, sizeof line, "* %s is now %s", nick, arg);
        strcpy(clients[fd].nick, arg);
        broadcast(-1, line);
    } else if (strcmp(text, "/who") == 0) {
        int n = 0;
        char names[FD_SETSIZE * 18] = "";
        for (int other = 0; other < FD_SETSIZE; other++) {
            if (!clients[other].used || clients[other].leaving) continue;
            if (n++) strcat(names, ", ");
            strcat(names, clients[other].nick);
        }
        char *who = malloc(strlen(names) + 32);
        if (who == NULL) return;
        sprintf(who, "* online (%d): %s", n, names);
        tell(fd, who);
        free(who);
    } else if (strcmp(text, "/quit") == 0) {
        snprintf(line, sizeof line, "* bye %s", nick);
        say_goodbye(fd, line);
        snprintf(line, sizeof line, "* %s left", nick);
        broadcast(fd, line);
    } else if (strcmp(text, "/msg") == 0) {
        char *msg = strchr(arg, ' ');
        if (msg) {
            *msg++ = '\0';
            clean(msg);
        }
        if (!msg || !*msg) { tell(fd, "* usage: /msg NICK TEXT"); return; }
        int to = find(arg);
        if (to < 0) { tellf(fd, "* no such nick: %s", arg); return; }
        tellf(to, "* private from %s: %s", nick, msg);
    } else if (strcmp(text, "/kick") == 0) {
        sanction(fd, arg, 0);
    } else if (strcmp(text, "/ban") == 0) {
        sanction(fd, arg, 1);
    } else {
        tellf(fd, "* unknown command %s; %s", text, COMMANDS);
    }
}

/* One read(); every complete line handled, a line over MAX_LINE cut there. */
static void read_client(int fd) {
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) { remove_client(fd, "closed the connection"); return; }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) remove_client(fd, strerror(errno));
        return;
    }
    struct client *c = &clients[fd];
    for (ssize_t i = 0; i < n && c->used && !c->leaving; i++) {
        char ch = buf[i];
        if (ch == '\n') {
            if (c->discarding) {
                c->discarding = 0;
                continue;
            }
            if (c->inlen > 0 && c->in[c->inlen - 1] == '\r') c->inlen--;
            char line[MAX_LINE + 1];
            memcpy(line, c->in, c->inlen);
            line[c->inlen] = '\0';
            c->inlen = 0;
            handle_line(fd, line);
        } else if (!c->discarding) {
            if (c->inlen == MAX_LINE) { /* cut: relay what fits, drop the rest */
                char line[MAX_LINE + 1];
                memcpy(line, c->in, MAX_LINE);
                line[MAX_LINE] = '\0';
                c->inlen = 0;
                c->discarding = 1;
                handle_line(fd, line);
            } else {
                c->in[c->inlen++] = ch;
            }
        }
    }
}

static void write_client(int fd) {
    struct client *c = &clients[fd];
    ssize_t n = write(fd, c->out, c->outlen);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) remove_client(fd, strerror(errno));
        return;
    }
    memmove(c->out, c->out + n, c->outlen - (size_t)n);
    c->outlen -= (size_t)n;
    if (c->outlen == 0 && c->leaving) remove_client(fd, "said goodbye");
}

static void accept_all(void) {
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int fd = accept(listener, (struct sockaddr *)&peer, &len);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) fprintf(stderr, "accept: %s\n", strerror(errno));
            return;
        }
        if (fd >= FD_SETSIZE) { /* FD_SET on it would write past the fd_set */
            (void)!write(fd, "* sorry, server full\n", 21);
            close(fd);
            continue;
        }
        int is_banned = 0;
        for (int i = 0; i < nbanned; i++) is_banned |= banned[i].s_addr == peer.sin_addr.s_addr;
        if (is_banned) { /* a new socket's buffer is empty: one write takes the line */
            (void)!write(fd, "* sorry, you are banned\n", 24);
            printf("fd %d: %s refused: banned\n", fd, inet_ntoa(peer.sin_addr));
            close(fd);
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        struct client *c = &clients[fd];
        memset(c, 0, sizeof *c);
        snprintf(c->nick, sizeof c->nick, "guest%u", next_guest);
        if (next_guest++ == 1) operator_fd = fd;
        char line[64];
        snprintf(line, sizeof line, "* %s joined", c->nick);
        broadcast(-1, line); /* before it is in the room */
        c->used = 1;
        c->ip = peer.sin_addr;
        printf("fd %d: %s joined as %s%s\n", fd, inet_ntoa(peer.sin_addr), c->nick, operator_fd == fd ? " (operator)" : "");
        tellf(fd, "* you are %s; %s", c->nick, COMMANDS);
    }
}

int main(int argc, char **argv) {
    const char *listen_at = "127.0.0.1:7000";
    if (argc == 3 && strcmp(argv[1], "--listen") == 0) {
        listen_at = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--listen IP:PORT]\n", argv[0]);
        return 2;
    }
    char host[64];
    const char *colon = strrchr(listen_at, ':');
    struct sockaddr_in addr = {.sin_family = AF_INET};
    if (!colon || (size_t)(colon - listen_at) >= sizeof host) {
        fprintf(stderr, "error: --listen %s: expected IPv4:PORT\n", listen_at);
        return 2;
    }
    memcpy(host, listen_at, (size_t)(colon - listen_at));
    host[colon - listen_at] = '\0';
    addr.sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "error: --listen %s: expected IPv4:PORT\n", listen_at);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a write to a reset connection: EPIPE, not death */

    int one = 1;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, SOMAXCONN) < 0) {
        fprintf(stderr, "error: listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK);
    socklen_t len = sizeof addr;
    getsockname(listener, (struct sockaddr *)&addr, &len);
    setvbuf(stdout, NULL, _IOLBF, 0); /* stdout is a pipe under the checker */
    printf("listening on %s:%d\n", inet_ntoa(addr.sin_addr), ntohs(addr.sin_port));

    for (;;) {
        /* select() overwrites its sets: build them afresh each time round. */
        fd_set rd, wr;
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        FD_SET(listener, &rd);
        int maxfd = listener;
        for (int fd = 0; fd < FD_SETSIZE; fd++) {
            if (!clients[fd].used) continue;
            if (!clients[fd].leaving) FD_SET(fd, &rd);
            if (clients[fd].outlen > 0) FD_SET(fd, &wr);
            if (fd > maxfd) maxfd = fd;
        }
        if (select(maxfd + 1, &rd, &wr, NULL, NULL) < 0) {
            if (errno == EINTR) continue;
            perror("select");
            return 1;
        }
        /* Clients first (a removed client's fd is skipped: `used` is 0), then accept,
         * so no fd number is reused within one round. */
        for (int fd = 0; fd <= maxfd; fd++) {
            if (fd == listener) continue;
            if (FD_ISSET(fd, &wr) && clients[fd].used) write_client(fd);
            if (FD_ISSET(fd, &rd) && clients[fd].used) read_client(fd);
        }
        if (FD_ISSET(listener, &rd)) accept_all();
    }
}
