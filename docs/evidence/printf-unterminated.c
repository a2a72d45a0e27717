/* A buffer filled by read() is not a C string: read() adds no terminating NUL. The
 * notes' callback example zeroes a 512-byte buffer, reads up to 512 bytes into it and
 * prints it with %s; from a file of 512 bytes or more nothing terminates it, and printf
 * goes on into whatever memory follows. Here that memory is the next field of the same
 * struct, so the overrun is visible and harmless; on the heap it is whatever was
 * allocated next, or a crash. Print the bytes read: printf("%.*s", (int)n, buffer).
 * Notes: "Asynchronous I/O with AIO" -> "example: callback" (and "example: normal").
 * Run: just evidence printf-unterminated */
#include "evidence.h"
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_SIZE 512

int main(void) {
    char path[] = "/tmp/evidence-printf-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) die("mkstemp");
    unlink(path);
    char line[MAX_SIZE];
    memset(line, 'a', sizeof line);
    if (write(fd, line, sizeof line) != sizeof line) die("write");
    lseek(fd, 0, SEEK_SET);

    struct {
        char buffer[MAX_SIZE]; /* as in the notes: MAX_SIZE bytes, zeroed, then read into */
        char next[32];         /* whatever the program keeps after it */
    } memory;
    memset(memory.buffer, 0, sizeof memory.buffer);
    snprintf(memory.next, sizeof memory.next, "<PASSWORD=hunter2>");
    ssize_t n = read(fd, memory.buffer, MAX_SIZE);
    close(fd);
    printf("the file holds %zu bytes; read(fd, buffer, %d) -> %zd\n", sizeof line, MAX_SIZE, n);
    size_t seen = strlen(memory.buffer);
    printf("strlen(buffer) = %zu, for a buffer of %d bytes\n", seen, MAX_SIZE);
    char out[1024];
    int printed = snprintf(out, sizeof out, "%s", memory.buffer);
    printf("printf(\"%%s\", buffer) prints %d bytes, ending \"...%s\"\n", printed, out + printed - 24);
    check(printed > MAX_SIZE, "%s ran past the end of the buffer into the next bytes");
    printed = snprintf(out, sizeof out, "%.*s", (int)n, memory.buffer);
    printf("printf(\"%%.*s\", (int)n, buffer) prints %d bytes\n", printed);
    check(printed == n, "%.*s with the count read prints exactly the bytes read");
    return failures ? 1 : 0;
}
