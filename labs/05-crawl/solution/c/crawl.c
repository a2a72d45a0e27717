/* Lab 05, "Crawl": the reference solution in C.
 *
 * From a start page, follows <a href> links on the same site with libcurl's multi
 * interface, at most N pages in flight, until M distinct <img src> URLs are found;
 * writes them to FILE, one per line. libcurl's URL API (curl_url_*) resolves the
 * relative links and drops the #fragments.
 *
 *   make OUT=crawl && ./crawl -t 4 -m 10 -o images.txt http://127.0.0.1:8080/web/index.html
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_N 64
#define MAX_PAGE (1024 * 1024)

/* A growable list of strings; the web is small, so lookups are linear. */
struct list {
    char **items;
    size_t len, cap;
};

static int contains(const struct list *l, const char *s)
{
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->items[i], s) == 0)
            return 1;
    return 0;
}

static void push(struct list *l, const char *s)
{
    if (l->len == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = realloc(l->items, l->cap * sizeof *l->items);
        if (!l->items) {
            fprintf(stderr, "error: out of memory\n");
            exit(1);
        }
    }
    l->items[l->len++] = strdup(s);
}

/* One page transfer. */
struct transfer {
    CURL *easy;
    char *url;
    char *body;
    size_t len;
};

static void die(const char *what, const char *why)
{
    fprintf(stderr, "error: %s: %s\n", what, why);
    exit(1);
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct transfer *t = userp;
    size_t len = size * n, keep = len;
    if (t->len + keep > MAX_PAGE)
        keep = MAX_PAGE - t->len;
    char *grown = realloc(t->body, t->len + keep + 1);
    if (!grown)
        return 0;
    t->body = grown;
    memcpy(t->body + t->len, data, keep);
    t->len += keep;
    t->body[t->len] = '\0';
    return len;
}

/* href resolved against base, without fragment; NULL if not http(s). Free with curl_free.
 *
 * The #fragment is cut off href first: libcurl 7.88 resolves a fragment-only link
 * ("#top") and an empty one ("") to the page's directory, not to the page. */
static char *resolve(const char *base, const char *href)
{
    char local[2048];
    snprintf(local, sizeof local, "%s", href);
    local[strcspn(local, "#")] = '\0';
    CURLU *u = curl_url();
    char *out = NULL, *scheme = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        (local[0] == '\0' || curl_url_set(u, CURLUPART_URL, local, 0) == CURLUE_OK) &&
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0))
        curl_url_get(u, CURLUPART_URL, &out, 0);
    curl_free(scheme);
    curl_url_cleanup(u);
    return out;
}

/* "http://host:port" of url, into buf. */
static void origin(const char *url, char *buf, size_t size)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    buf[0] = '\0';
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
        snprintf(buf, size, "%s://%s:%s", scheme, host, port);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

/* Calls found(value) for attribute attr of every <tag ...> in html. */
static void each_attribute(const char *html, const char *tag, const char *attr,
                           void (*found)(const char *value, void *ctx), void *ctx)
{
    char open[16], needle[16];
    snprintf(open, sizeof open, "<%s ", tag);
    snprintf(needle, sizeof needle, " %s=\"", attr);
    for (const char *p = strstr(html, open); p; p = strstr(p, open)) {
        const char *end = strchr(p, '>');
        if (!end)
            return;
        const char *at = strstr(p, needle);
        if (at && at < end) {
            at += strlen(needle);
            const char *close = strchr(at, '"');
            if (close && close < end) {
                char value[2048];
                size_t len = (size_t)(close - at);
                if (len < sizeof value) {
                    memcpy(value, at, len);
                    value[len] = '\0';
                    found(value, ctx);
                }
            }
        }
        p = end;
    }
}

/* The crawl's state. */
static struct list frontier, seen, images;
static size_t next_in_frontier;
static long max_images;
static char site[512];
static const char *page_url;

static void on_image(const char *src, void *ctx)
{
    (void)ctx;
    char *url = resolve(page_url, src);
    if (url && (long)images.len < max_images && !contains(&images, url))
        push(&images, url);
    curl_free(url);
}

static void on_link(const char *href, void *ctx)
{
    (void)ctx;
    char *url = resolve(page_url, href);
    char o[512];
    if (url) {
        origin(url, o, sizeof o);
        /* Seen when queued, not when fetched: no page is ever queued twice. */
        if (strcmp(o, site) == 0 && !contains(&seen, url)) {
            push(&seen, url);
            push(&frontier, url);
        }
    }
    curl_free(url);
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
    max_images = 10;
    while ((opt = getopt(argc, argv, "t:m:o:")) != -1) {
        if (opt == 't')
            n = strtol(optarg, NULL, 10);
        else if (opt == 'm')
            max_images = strtol(optarg, NULL, 10);
        else if (opt == 'o')
            out = optarg;
        else
            goto usage;
    }
    if (optind != argc - 1 || !out || n < 1 || n > MAX_N || max_images < 1)
        goto usage;

    double started = now();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *start = resolve(argv[optind], "");
    if (!start)
        die(argv[optind], "not an http:// or https:// URL");
    origin(start, site, sizeof site);
    push(&seen, start);
    push(&frontier, start);

    CURLM *multi = curl_multi_init();
    struct transfer slots[MAX_N] = {0};
    long in_flight = 0, fetched = 0, broken = 0;
    for (;;) {
        /* Fill: up to N in flight, from the frontier, until M images are known. */
        for (long i = 0; i < n && (long)images.len < max_images; i++) {
            if (slots[i].easy || next_in_frontier == frontier.len)
                continue;
            struct transfer *t = &slots[i];
            t->url = frontier.items[next_in_frontier++];
            t->easy = curl_easy_init();
            curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
            curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
            curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
            curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
            curl_easy_setopt(t->easy, CURLOPT_TIMEOUT, 10L);
            curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
            curl_multi_add_handle(multi, t->easy);
            in_flight++;
            fetched++;
        }
        if (in_flight == 0 || (long)images.len >= max_images)
            break;
        if (now() - started > 60)
            die("crawl", "still not done after 60 s");
        curl_multi_wait(multi, NULL, 0, 1000, NULL);
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
            in_flight--;
            char why[128] = "";
            if (result != CURLE_OK)
                snprintf(why, sizeof why, "%s", curl_easy_strerror(result));
            else if (status != 200)
                snprintf(why, sizeof why, "HTTP %ld", status);
            if (why[0] && strcmp(t->url, start) == 0) {
                char what[600];
                snprintf(what, sizeof what, "GET %s", t->url);
                die(what, why); /* without the start page there is no crawl */
            } else if (why[0]) {
                printf("skipped %s: %s\n", t->url, why);
                broken++;
            } else if (t->body) {
                page_url = t->url;
                each_attribute(t->body, "img", "src", on_image, NULL);
                each_attribute(t->body, "a", "href", on_link, NULL);
            }
            free(t->body);
            t->body = NULL;
            t->len = 0;
        }
    }
    /* Enough images: pages still in flight are not needed. */
    for (long i = 0; i < n; i++)
        if (slots[i].easy) {
            curl_multi_remove_handle(multi, slots[i].easy);
            curl_easy_cleanup(slots[i].easy);
        }
    curl_multi_cleanup(multi);

    FILE *f = fopen(out, "w");
    if (!f)
        die(out, "cannot create the file");
    for (size_t i = 0; i < images.len; i++)
        fprintf(f, "%s\n", images.items[i]);
    if (fclose(f) != 0)
        die(out, "write failed");
    printf("found %zu image URLs on %ld pages (%ld broken), at most %ld at once: %.3f s\n", images.len,
           fetched, broken, n, now() - started);
    return 0;
usage:
    fprintf(stderr, "usage: %s -t N -m M -o FILE URL\n", argv[0]);
    return 2;
}
