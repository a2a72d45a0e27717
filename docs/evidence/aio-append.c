/* aio_offset is ignored in append mode only for writes: O_APPEND says where writes go,
 * and says nothing about reads. An aio_read of a file opened with O_APPEND reads from
 * aio_offset like any other; an aio_write to it appends whatever aio_offset says.
 * Notes: "Asynchronous I/O with AIO" -> "struct aiocb" (aio_offset).
 * Run: just evidence aio-append */
#include "evidence.h"
#include <aio.h>
#include <fcntl.h>
#include <unistd.h>

/* Queues `cb`, waits for it (at most 2 s), and returns aio_return's value. */
static ssize_t finish(struct aiocb *cb) {
    const struct aiocb *list[1] = {cb};
    struct timespec second = {1, 0};
    double t0 = now_ms();
    while (aio_error(cb) == EINPROGRESS && now_ms() - t0 < 2000) aio_suspend(list, 1, &second);
    int e = aio_error(cb);
    if (e != 0) {
        errno = e;
        die("aio request");
    }
    return aio_return(cb);
}

int main(void) {
    char path[] = "/tmp/evidence-append-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) die("mkstemp");
    if (write(fd, "0123456789", 10) != 10) die("write");
    close(fd);
    fd = open(path, O_RDWR | O_APPEND);
    if (fd < 0) die("open O_APPEND");
    unlink(path);
    printf("a file holding \"0123456789\", opened with O_RDWR|O_APPEND\n");

    char buf[8] = {0};
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 3;
    cb.aio_offset = 4;
    if (aio_read(&cb) < 0) die("aio_read");
    ssize_t n = finish(&cb);
    printf("aio_read(aio_offset=4, 3 bytes) -> %zd: \"%.*s\"\n", n, (int)n, buf);
    check(n == 3 && memcmp(buf, "456", 3) == 0, "a read uses aio_offset even in append mode");

    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = "AB";
    cb.aio_nbytes = 2;
    cb.aio_offset = 0;
    if (aio_write(&cb) < 0) die("aio_write");
    n = finish(&cb);
    char all[16] = {0};
    ssize_t size = pread(fd, all, sizeof all - 1, 0);
    printf("aio_write(aio_offset=0, \"AB\") -> %zd; the file now holds \"%.*s\"\n", n, (int)size, all);
    check(size == 12 && memcmp(all, "0123456789AB", 12) == 0, "a write in append mode goes to the end, whatever aio_offset says");
    close(fd);
    return failures ? 1 : 0;
}
