/* Two lines written the way the notes print them, handed to the C compiler: an include
 * without its angle brackets, and an FD_ISSET test missing its closing parenthesis.
 * Neither compiles; the fixed lines do. Notes: "struct aiocb" (the include) and
 * "3. using select()" -> "Example:" (the FD_ISSET tests).
 * Run: just evidence notes-typos */
#include "evidence.h"
#include <unistd.h>

/* Compiles `code` with cc -fsyntax-only; returns its exit status and the first error line. */
static int compile(const char *code, char *first_error, size_t n) {
    char src[] = "/tmp/evidence-typo-XXXXXX.c";
    int fd = mkstemps(src, 2);
    if (fd < 0) die("mkstemps");
    if (write(fd, code, strlen(code)) != (ssize_t)strlen(code)) die("write");
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "LC_ALL=C cc -std=gnu11 -fsyntax-only %s 2>&1", src);
    FILE *out = popen(cmd, "r");
    if (!out) die("popen cc");
    char line[512];
    first_error[0] = '\0';
    while (fgets(line, sizeof line, out)) {
        if (!first_error[0] && strstr(line, "error")) {
            const char *msg = strstr(line, "error");
            snprintf(first_error, n, "%s", msg);
            first_error[strcspn(first_error, "\n")] = '\0';
        }
    }
    int status = pclose(out);
    unlink(src);
    return status;
}

static const char *NO_BRACKETS = "#include aio.h\nint main(void) { return 0; }\n";
static const char *BRACKETS = "#include <aio.h>\nint main(void) { return 0; }\n";
static const char *ONE_SHORT =
    "#include <sys/select.h>\n"
    "int main(void) { fd_set s; FD_ZERO(&s); int fd = 0; FD_SET(fd, &s);\n"
    "  if ( FD_ISSET( fd, &s ) { return 1; }\n"
    "  return 0; }\n";
static const char *BALANCED =
    "#include <sys/select.h>\n"
    "int main(void) { fd_set s; FD_ZERO(&s); int fd = 0; FD_SET(fd, &s);\n"
    "  if ( FD_ISSET( fd, &s ) ) { return 1; }\n"
    "  return 0; }\n";

int main(void) {
    char err[256];
    int bad = compile(NO_BRACKETS, err, sizeof err);
    printf("#include aio.h       -> cc %s: %s\n", bad ? "fails" : "accepts", bad ? err : "");
    int good = compile(BRACKETS, err, sizeof err);
    printf("#include <aio.h>     -> cc %s\n", good ? "fails" : "accepts");
    check(bad != 0 && good == 0, "the include needs its angle brackets");
    bad = compile(ONE_SHORT, err, sizeof err);
    printf("if ( FD_ISSET( fd, &s ) {    -> cc %s: %s\n", bad ? "fails" : "accepts", bad ? err : "");
    good = compile(BALANCED, err, sizeof err);
    printf("if ( FD_ISSET( fd, &s ) ) {  -> cc %s\n", good ? "fails" : "accepts");
    check(bad != 0 && good == 0, "each FD_ISSET test needs one more closing parenthesis");
    return failures ? 1 : 0;
}
