/* read() and write() may move fewer bytes than asked, and a byte stream keeps no
 * message boundaries: two writes can arrive as one read, one write as several. A
 * non-blocking write into a full socket buffer writes part of the data and returns the
 * count; the rest is the program's to keep and send later. So every read loop frames
 * its own messages (the chat demos split lines), and every write loop keeps an offset.
 * Notes: "blocking IO" (`int bytes_read = read(...)`), "3. using select()".
 * Run: just evidence short-io */
#include "evidence.h"
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int p[2];
    if (pipe(p) < 0) die("pipe");
    char buf[4096];

    printf("-- a short read: 10 bytes in the pipe, read() asks for %zu\n", sizeof buf);
    if (write(p[1], "0123456789", 10) != 10) die("write");
    ssize_t n = read(p[0], buf, sizeof buf);
    printf("read(fd, buf, %zu) -> %zd\n", sizeof buf, n);
    check(n == 10, "read returns what is there, not what was asked for");

    printf("-- no message boundaries: write(\"hello \") then write(\"world\\n\"), one read\n");
    if (write(p[1], "hello ", 6) != 6 || write(p[1], "world\n", 6) != 6) die("write");
    n = read(p[0], buf, sizeof buf);
    printf("read -> %zd bytes: \"%.*s\"\n", n, (int)(n > 0 ? n - 1 : 0), buf);
    check(n == 12, "two writes came back as one read");

    printf("-- one write, read in pieces: 12 bytes written, read 5 at a time\n");
    if (write(p[1], "hello world!", 12) != 12) die("write");
    int reads = 0;
    size_t total = 0;
    while (total < 12) {
        n = read(p[0], buf, 5);
        if (n <= 0) die("read");
        printf("read(fd, buf, 5) -> %zd: \"%.*s\"\n", n, (int)n, buf);
        total += (size_t)n;
        reads++;
    }
    check(reads == 3, "a line can take several reads: frame messages yourself");
    close(p[0]);
    close(p[1]);

    printf("-- a partial write: a non-blocking socket whose peer reads nothing\n");
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0) die("socketpair");
    int size = 16384;
    setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
    static char big[1 << 20];
    memset(big, 'x', sizeof big);
    n = write(s[0], big, sizeof big);
    printf("write(fd, buf, %zu) -> %zd\n", sizeof big, n);
    check(n > 0 && (size_t)n < sizeof big, "a write can take part of the data and return the count");
    ssize_t again = write(s[0], big + n, sizeof big - (size_t)n);
    printf("write(fd, buf + %zd, %zu) -> %zd %s\n", n, sizeof big - (size_t)n, again,
           again < 0 ? strerrorname_np(errno) : "");
    check(again == -1 && errno == EAGAIN, "the rest waits until the peer reads (POLLOUT says when)");
    close(s[0]);
    close(s[1]);

    printf("-- the two names for \"would block\": EAGAIN = %d, EWOULDBLOCK = %d\n", EAGAIN, EWOULDBLOCK);
    check(EAGAIN == EWOULDBLOCK, "on Linux they are one number (test both where they may differ)");
    return failures ? 1 : 0;
}
