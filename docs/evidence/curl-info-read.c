/* curl_multi_info_read reports finished transfers only: every message is CURLMSG_DONE,
 * and a transfer still running has no message at all, however often you ask.
 * curl_multi_fdset's max_fd must point somewhere: curl writes through it unchecked.
 * Notes: "Using cURL Asynchronously" -> "5. curl_multi_info_read()" and
 * "Asynchronous +curl + select()" -> "2. curl_multi_fdset()".
 * Run: just evidence curl-info-read */
#include "http.h"
#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>

static CURL *add(CURLM *multi, int port, const char *path, FILE *sink) {
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, (curl_write_callback)fwrite);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)(path));
    curl_multi_add_handle(multi, easy);
    return easy;
}

int main(void) {
    int port = http_start();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    FILE *sink = fopen("/dev/null", "w");
    CURLM *multi = curl_multi_init();
    CURL *fast = add(multi, port, "/delay/0", sink);
    CURL *slow = add(multi, port, "/delay/600", sink);
    int running = 2, asked = 0, done = 0, other = 0, slow_seen_running = 0;
    double start = now_ms();
    curl_multi_perform(multi, &running);
    while ((running || done < 2) && now_ms() - start < 5000) {
        int left = 0;
        CURLMsg *msg;
        asked++;
        while ((msg = curl_multi_info_read(multi, &left))) {
            char *path = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &path);
            printf("[%6.1f ms] curl_multi_info_read: msg=%s for %s (result %d), msgs_left=%d\n",
                   now_ms() - start, msg->msg == CURLMSG_DONE ? "CURLMSG_DONE" : "something else",
                   path, msg->data.result, left);
            if (msg->msg == CURLMSG_DONE) done++;
            else other++;
            if (msg->easy_handle == fast && running == 1) slow_seen_running = 1;
        }
        if (!running) break;
        int numfds;
        curl_multi_poll(multi, NULL, 0, 100, &numfds);
        curl_multi_perform(multi, &running);
    }
    printf("asked %d times while transfers ran; messages: %d CURLMSG_DONE, %d of any other kind\n",
           asked, done, other);
    check(done == 2 && other == 0, "every message is CURLMSG_DONE, one per finished transfer");
    check(slow_seen_running && asked > 2,
          "the running transfer had no message while it ran (no \"in progress\" message exists)");
    curl_multi_remove_handle(multi, fast);
    curl_multi_remove_handle(multi, slow);
    curl_easy_cleanup(fast);
    curl_easy_cleanup(slow);

    /* max_fd = NULL, which the notes allow: in a child, so the parent can report it. */
    CURL *again = add(multi, port, "/delay/300", sink);
    curl_multi_perform(multi, &running);
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        fd_set r, w, e;
        FD_ZERO(&r);
        FD_ZERO(&w);
        FD_ZERO(&e);
        curl_multi_fdset(multi, &r, &w, &e, NULL);
        _exit(0);
    }
    int status;
    if (waitpid(child, &status, 0) < 0) die("waitpid");
    printf("curl_multi_fdset(..., max_fd=NULL) in a child: %s\n",
           WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "returned");
    check(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "max_fd = NULL crashes curl_multi_fdset");
    curl_multi_remove_handle(multi, again);
    curl_easy_cleanup(again);
    curl_multi_cleanup(multi);
    fclose(sink);
    curl_global_cleanup();
    return failures ? 1 : 0;
}
