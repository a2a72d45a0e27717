/* Lab 03, "Paste the strips": the reference solution in C.
 *
 * Fetches random strips of a picture until it holds every one, with libcurl's multi
 * interface keeping at most N transfers in flight and replacing each finished one at
 * once; writes the picture as a PPM and prints the time.
 *
 *   make OUT=strips && ./strips -t 8 -o out.ppm http://127.0.0.1:8080/strips
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_N 64

/* One transfer: its easy handle and what it received. */
struct transfer {
    CURL *easy;
    char *body;
    size_t len, cap;
    long index, count, width, height; /* from the X-Strip-* headers, -1 if absent */
};

static const char *url;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "error: %s: %s\n", what, why);
    exit(1);
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct transfer *t = userp;
    size_t len = size * n;
    if (t->len + len > t->cap) {
        size_t cap = (t->len + len) * 2;
        char *grown = realloc(t->body, cap);
        if (!grown)
            return 0; /* fewer bytes than given: curl fails the transfer */
        t->body = grown;
        t->cap = cap;
    }
    memcpy(t->body + t->len, data, len);
    t->len += len;
    return len;
}

/* Called once per header line, "Name: value\r\n" (not NUL-terminated). */
static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
    struct transfer *t = userp;
    size_t len = size * n;
    char line[256];
    if (len >= sizeof line)
        return len;
    memcpy(line, data, len);
    line[len] = '\0';
    const char *names[] = {"x-strip-index:", "x-strip-count:", "x-image-width:", "x-image-height:"};
    long *fields[] = {&t->index, &t->count, &t->width, &t->height};
    for (size_t i = 0; i < 4; i++) {
        size_t k = strlen(names[i]);
        if (strncasecmp(line, names[i], k) == 0)
            *fields[i] = strtol(line + k, NULL, 10);
    }
    return len;
}

/* curl_easy_init + setopt for a new strip request, added to the multi handle. */
static void start(CURLM *multi, struct transfer *t)
{
    free(t->body);
    memset(t, 0, sizeof *t);
    t->index = t->count = t->width = t->height = -1;
    t->easy = curl_easy_init();
    if (!t->easy)
        die("curl_easy_init", "failed");
    curl_easy_setopt(t->easy, CURLOPT_URL, url);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    CURLMcode rc = curl_multi_add_handle(multi, t->easy);
    if (rc != CURLM_OK)
        die("curl_multi_add_handle", curl_multi_strerror(rc));
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long n = 4;
    const char *out = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "t:o:")) != -1) {
        if (opt == 't')
            n = strtol(optarg, NULL, 10);
        else if (opt == 'o')
            out = optarg;
        else
            goto usage;
    }
    if (optind != argc - 1 || !out || n < 1 || n > MAX_N)
        goto usage;
    url = argv[optind];

    double started = now();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    struct transfer slots[MAX_N] = {0};
    for (long i = 0; i < n; i++)
        start(multi, &slots[i]);

    char **strips = NULL; /* strips[i]: strip i's pixels, once held */
    long count = 0, width = 0, height = 0, missing = 0, requests = n;
    size_t strip_len = 0;
    char what[600];
    snprintf(what, sizeof what, "GET %s", url);
    for (;;) {
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct transfer *t;
            CURLcode result = msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            long status = 0;
            curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(multi, t->easy);
            curl_easy_cleanup(t->easy);
            t->easy = NULL;
            if (result != CURLE_OK)
                die(what, curl_easy_strerror(result));
            if (status != 200) {
                char why[64];
                snprintf(why, sizeof why, "the server answered HTTP %ld", status);
                die(what, why);
            }
            if (!strips) { /* the first answer tells the size */
                count = t->count, width = t->width, height = t->height;
                if (count < 1 || width < 1 || height < 1 || height % count)
                    die("read the strip", "missing or impossible X-Strip-Count / X-Image-* headers");
                strips = calloc(count, sizeof *strips);
                missing = count;
                strip_len = (size_t)width * 3 * (height / count);
            }
            if (t->index < 0 || t->index >= count || t->len != strip_len)
                die("read the strip", "bad X-Strip-Index or wrong body length");
            if (!strips[t->index]) {
                strips[t->index] = t->body; /* keep it; the slot gets a new buffer */
                t->body = NULL;
                missing--;
            }
            /* A slot is free: fill it at once, while any strip is missing. */
            if (missing > 0) {
                start(multi, t);
                requests++;
            }
        }
        if (strips && missing == 0)
            break;
        if (now() - started > 60)
            die("fetch the strips", "still not done after 60 s");
        curl_multi_wait(multi, NULL, 0, 1000, NULL);
    }
    /* Transfers still in flight are not needed any more. */
    for (long i = 0; i < n; i++)
        if (slots[i].easy) {
            curl_multi_remove_handle(multi, slots[i].easy);
            curl_easy_cleanup(slots[i].easy);
        }
    curl_multi_cleanup(multi);

    FILE *f = fopen(out, "wb");
    if (!f)
        die(out, "cannot create the file");
    fprintf(f, "P6\n%ld %ld\n255\n", width, height);
    for (long i = 0; i < count; i++)
        fwrite(strips[i], 1, strip_len, f);
    if (fclose(f) != 0)
        die(out, "write failed");
    printf("fetched %ld strips in %ld requests, at most %ld at once: %.3f s\n", count, requests, n,
           now() - started);
    return 0;
usage:
    fprintf(stderr, "usage: %s -t N -o FILE URL\n", argv[0]);
    return 2;
}
