/* sigev_notify_function returns void: its type is void (*)(union sigval). The notes
 * declare it returning void *, so a callback written to that declaration has the wrong
 * type, which C compilers reject or warn about (GCC 14 rejects it by default:
 * -Wincompatible-pointer-types became an error). The checks below are _Generic, which
 * picks a branch by exact type at compile time.
 * Notes: "Asynchronous I/O with AIO" -> "struct sigevent".
 * Run: just evidence sigev-signature */
#include "evidence.h"
#include <signal.h>

#define TYPE_NAME(x)                                                                       \
    _Generic((x), void (*)(union sigval): "void (*)(union sigval)",                        \
             void *(*)(union sigval): "void *(*)(union sigval)", default: "something else")

static void as_glibc_declares(union sigval v) { (void)v; }
static void *as_the_notes_declare(union sigval v) { (void)v; return NULL; }

int main(void) {
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    const char *field = TYPE_NAME(ev.sigev_notify_function);
    printf("struct sigevent's sigev_notify_function has type %s\n", field);
    printf("a callback declared as in the notes has type %s\n", TYPE_NAME(&as_the_notes_declare));
    printf("a callback declared as glibc's field has type %s\n", TYPE_NAME(&as_glibc_declares));
    int notes_fits = _Generic(&as_the_notes_declare, __typeof__(ev.sigev_notify_function): 1, default: 0);
    int right_fits = _Generic(&as_glibc_declares, __typeof__(ev.sigev_notify_function): 1, default: 0);
    printf("assignable without a cast: the notes' callback %s, the void one %s\n", notes_fits ? "yes" : "no",
           right_fits ? "yes" : "no");
    check(strcmp(field, "void (*)(union sigval)") == 0 && !notes_fits && right_fits,
          "the notification function returns void, not void *");
    ev.sigev_notify_function = as_glibc_declares;
    return failures ? 1 : 0;
}
