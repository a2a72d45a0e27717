/* glibc's AIO keeps using the aiocb until the request is finished: the worker thread
 * reads its fields when it starts the read, writes the result (__return_value,
 * __error_code) into it when the read ends, and reads aio_sigevent then to decide how
 * to notify. So the aiocb must outlive the request. The notes' callback example puts it
 * in main's frame and calls pthread_exit, which ends that frame's lifetime (POSIX:
 * after a thread terminates, access to its automatic variables is undefined); it works
 * there only because nothing else reuses main's stack. Here a function starts the read
 * with its aiocb on its stack and returns, and the next function called puts an array
 * where that aiocb was: glibc writes into the array, and the callback never runs.
 * Notes: "Asynchronous I/O with AIO" -> "example: callback".
 * Run: just evidence aio-dead-aiocb */
#include "evidence.h"
#include <aio.h>
#include <semaphore.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

static int pipe_fds[2];
static char buffer[64];
static sem_t called;
static uintptr_t dead_aiocb; /* where start_read's aiocb was */

static void callback(union sigval value) {
    (void)value;
    sem_post(&called);
}

/* Queues a read of the pipe with the aiocb in this function's frame, then returns. */
__attribute__((noinline)) static void start_read(void) {
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = pipe_fds[0];
    cb.aio_buf = buffer;
    cb.aio_nbytes = sizeof buffer;
    cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
    cb.aio_sigevent.sigev_notify_function = callback;
    if (aio_read(&cb) < 0) die("aio_read");
    /* Let glibc's worker start the read (it blocks: the pipe is empty). */
    struct timespec d = {0, 50 * 1000000L};
    nanosleep(&d, NULL);
    dead_aiocb = (uintptr_t)&cb;
    printf("start_read: aio_read queued, its %zu-byte aiocb on start_read's stack; returning\n",
           sizeof cb);
}

/* The next call at the same depth: its array lies where the aiocb was. */
__attribute__((noinline)) static void next_function(void) {
    volatile unsigned char frame[2048];
    for (size_t i = 0; i < sizeof frame; i++) frame[i] = 0xAA;
    uintptr_t lo = (uintptr_t)frame, hi = lo + sizeof frame;
    uintptr_t result = dead_aiocb + offsetof(struct aiocb, __return_value);
    int covers = result >= lo && result + sizeof(ssize_t) <= hi;
    printf("next_function: a %zu-byte array, filled with 0xAA, %s where the old aiocb kept its result\n",
           sizeof frame, covers ? "lies" : "does NOT lie");
    if (write(pipe_fds[1], "data", 4) != 4) die("write");
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 500 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int ran = sem_timedwait(&called, &until) == 0;
    int changed = 0;
    for (size_t i = 0; i < sizeof frame; i++)
        if (frame[i] != 0xAA) changed++;
    printf("4 bytes written to the pipe; the read completed (buffer: \"%.4s\")\n", buffer);
    printf("bytes of the array changed since: %d", changed);
    if (covers) {
        ssize_t value;
        memcpy(&value, (const void *)(frame + (result - lo)), sizeof value);
        printf(", among them the old aiocb's __return_value, which now holds %zd", value);
    }
    printf("\nthe SIGEV_THREAD callback %s\n", ran ? "ran" : "never ran (waited 500 ms)");
    check(covers && changed > 0 && frame[result - lo] == 4, "glibc wrote the result into the aiocb after its owner returned");
    check(!ran, "and read the notification from memory that now held something else");
}

int main(void) {
    if (pipe(pipe_fds) < 0) die("pipe");
    sem_init(&called, 0, 0);
    start_read();
    next_function();
    return failures ? 1 : 0;
}
