// Load generator for the policy socket, driving it the way Exim's ${readsocket} does: a NEW connection per
// request, one write, shutdown(SHUT_WR), read to EOF, close. C threads so the client is not the bottleneck.
// Usage: loadgen ADDRESS THREADS SECONDS MODE NKEYS [FORM] [RATE]
//   ADDRESS: a Unix socket path, or HOST:PORT (IPv4) for TCP as Exim's ${readsocket{inet:HOST:PORT}…}
//   MODE: hot | uniform | zipf | seq (every key once, then stop) ; NKEYS: distinct keys
//   FORM: legacy (default) | attr | exim (attr without the newline, as Exim's ${readsocket} sends it: the
//   server can only answer at the half-close) | postfix (Postfix's policy delegation: each thread keeps ONE
//   connection open, as an smtpd process does, and sends RCPT request blocks as Postfix 3.7 does, each
//   answered by "action=...\n\n" before the next) ; RATE: total requests per second to hold (0 = as fast as possible)
// Environment (for test/stress): LOADGEN_PREFIX (keys are PREFIX<n>@example.org, default "user"),
// LOADGEN_KEY_BYTES (pad each key's local part so the key is this many bytes), LOADGEN_SEED (vary the key
// sequence). SIGTERM or SIGINT: finish the requests under way and report.
// Prints one JSON object: requests, errors, yes, over (answers naming a limit the key is over: "yes" in the
// one-token form, a reply with rule= in the attribute form), elapsed_s, latency percentiles in
// microseconds; errors are split into refused (no connection: Exim would use its fallback), unanswered
// (connected and written, then an empty reply or a reset: Exim would get an empty string), write_failed
// and bad (a reply that is not an answer).
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_storage target; // where to connect: AF_UNIX or AF_INET
static socklen_t target_len;
static double seconds;
static const char *mode;
static long nkeys;
static int attr_form, no_newline, postfix_form;
static double *zipf_cdf;
static double rate_per_thread;
static long seq_next; // shared cursor for MODE seq
static const char *key_prefix = "user";
static long key_bytes; // 0: no padding
static unsigned int seed_base = 12345u;
static volatile sig_atomic_t stopping; // SIGTERM/SIGINT: finish the requests under way and report

static void on_stop_signal(int sig) { (void)sig; stopping = 1; }

enum { ASK_REFUSED = -1, ASK_WRITE_FAILED = -2, ASK_UNANSWERED = -3 };

typedef struct {
  long requests, errors, yes, over, refused, write_failed, unanswered, bad;
  uint32_t *lat; // microseconds
  long lat_len, lat_cap;
  unsigned int seed, seed_start;
} worker_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long pick_key(worker_t *w) {
  if (strcmp(mode, "hot") == 0) return 0;
  if (strcmp(mode, "seq") == 0) return __atomic_fetch_add(&seq_next, 1, __ATOMIC_RELAXED);
  double u = (double)rand_r(&w->seed) / ((double)RAND_MAX + 1.0);
  if (strcmp(mode, "zipf") == 0) {
    long lo = 0, hi = nkeys - 1;
    while (lo < hi) { long mid = (lo + hi) / 2; if (zipf_cdf[mid] < u) lo = mid + 1; else hi = mid; }
    return lo;
  }
  // uniform over nkeys, with a second draw so 1e6 keys are reachable with RAND_MAX = 2^31
  long r = ((long)rand_r(&w->seed) << 16) ^ rand_r(&w->seed);
  return (r < 0 ? -r : r) % nkeys;
}

static int ask(const char *req, size_t len, char *reply, size_t cap) {
  int fd = socket(target.ss_family, SOCK_STREAM, 0);
  if (fd < 0) return ASK_REFUSED;
  if (connect(fd, (struct sockaddr *)&target, target_len) < 0) { close(fd); return ASK_REFUSED; }
  size_t written = 0;
  while (written < len) {
    ssize_t n = write(fd, req + written, len - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { close(fd); return ASK_WRITE_FAILED; }
    written += n;
  }
  shutdown(fd, SHUT_WR);
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, reply + got, cap - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += n;
    if (got >= cap - 1) break;
  }
  close(fd);
  reply[got] = 0;
  return got == 0 ? ASK_UNANSWERED : (int)got;
}

// FORM postfix: one request on the thread's persistent connection *fd (connected first if -1; closed and
// set to -1 on any failure, so the next request connects again), read up to the reply's empty line.
static int ask_persistent(int *fd, const char *req, size_t len, char *reply, size_t cap) {
  if (*fd < 0) {
    *fd = socket(target.ss_family, SOCK_STREAM, 0);
    if (*fd < 0) return ASK_REFUSED;
    if (connect(*fd, (struct sockaddr *)&target, target_len) < 0) { close(*fd); *fd = -1; return ASK_REFUSED; }
  }
  size_t written = 0;
  while (written < len) {
    ssize_t n = write(*fd, req + written, len - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { close(*fd); *fd = -1; return ASK_WRITE_FAILED; }
    written += n;
  }
  size_t got = 0;
  reply[0] = 0;
  while (!strstr(reply, "\n\n")) {
    ssize_t n = read(*fd, reply + got, cap - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || got + n >= cap - 1) { close(*fd); *fd = -1; return got == 0 ? ASK_UNANSWERED : (int)got; }
    got += n;
    reply[got] = 0;
  }
  return (int)got;
}

// A Postfix 3.7 RCPT request block (test/fixtures/postfix/rcpt-request.txt) for one sender and client, of a
// message of its own (instance: the thread and its request number), as one-recipient messages would be.
static int postfix_request(char *req, size_t cap, const char *sender, const char *pad, long k, unsigned int thread,
                           long serial) {
  return snprintf(req, cap,
    "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=192.0.2.%ld\n"
    "client_name=unknown\nclient_port=60280\nreverse_client_name=unknown\nserver_address=127.0.0.1\n"
    "server_port=25\nhelo_name=client.example\nsender=%s%ld%s@example.org\nrecipient=rcpt@example.net\n"
    "recipient_count=0\nqueue_id=\ninstance=%x.%lx.0\nsize=0\netrn_domain=\nstress=\n"
    "sasl_method=\nsasl_username=\nsasl_sender=\nccert_subject=\nccert_issuer=\nccert_fingerprint=\n"
    "ccert_pubkey_fingerprint=\nencryption_protocol=\nencryption_cipher=\nencryption_keysize=0\n"
    "policy_context=\n\n", k % 250, sender, k, pad, thread, serial);
}

// "/path/to.sock" (anything with a slash) or "127.0.0.1:PORT".
static int parse_address(const char *address) {
  const char *colon = strrchr(address, ':');
  if (strchr(address, '/') || !colon) {
    struct sockaddr_un *un = (struct sockaddr_un *)&target;
    un->sun_family = AF_UNIX;
    strncpy(un->sun_path, address, sizeof un->sun_path - 1);
    target_len = sizeof *un;
    return 0;
  }
  struct sockaddr_in *in = (struct sockaddr_in *)&target;
  char host[64];
  snprintf(host, sizeof host, "%.*s", (int)(colon - address), address);
  in->sin_family = AF_INET;
  in->sin_port = htons((uint16_t)atoi(colon + 1));
  target_len = sizeof *in;
  return inet_pton(AF_INET, host, &in->sin_addr) == 1 ? 0 : -1;
}

static void *run(void *arg) {
  worker_t *w = arg;
  size_t req_cap = 1024 + key_bytes;
  char *req = malloc(req_cap), *pad = malloc(key_bytes + 1), reply[256];
  int persistent_fd = -1; // FORM postfix
  int pad_len = 0;
  double start = now_s(), end = start + seconds;
  long sent = 0;
  while (1) {
    double t0 = now_s();
    if (t0 >= end || stopping) break;
    if (rate_per_thread > 0) {
      double due = start + sent / rate_per_thread;
      if (due > t0) {
        double wait = due - t0;
        struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
        if (stopping) break;
        t0 = now_s();
      }
      sent++;
    }
    long k = pick_key(w);
    if (k >= nkeys) break; // seq: all keys done
    if (key_bytes > 0) {
      // Pad the local part so that the whole key (PREFIX<n>x…x@example.org) is key_bytes long.
      int base = snprintf(NULL, 0, "%s%ld@example.org", key_prefix, k);
      pad_len = key_bytes > base ? (int)(key_bytes - base) : 0;
      memset(pad, 'x', pad_len);
      pad[pad_len] = 0;
    }
    int len = postfix_form ? postfix_request(req, req_cap, key_prefix, pad_len ? pad : "", k, w->seed_start,
                                             w->requests + w->errors)
      : attr_form
      ? snprintf(req, req_cap, "rcpt sender=%s%ld%s@example.org client_address=192.0.2.%ld recipient=rcpt@example.net\n", key_prefix, k, pad_len ? pad : "", k % 250)
      : snprintf(req, req_cap, "%s%ld%s@example.org\n", key_prefix, k, pad_len ? pad : "");
    len -= no_newline;
    int n = postfix_form ? ask_persistent(&persistent_fd, req, len, reply, sizeof reply)
                         : ask(req, len, reply, sizeof reply);
    double t1 = now_s();
    if (n <= 0 || (strncmp(reply, "no", 2) != 0 && strncmp(reply, "yes", 3) != 0 && strncmp(reply, "action=", 7) != 0)) {
      const char *what = n == ASK_REFUSED ? "refused" : n == ASK_WRITE_FAILED ? "write failed" : n == ASK_UNANSWERED ? "unanswered" : "bad reply";
      if (n == ASK_REFUSED) w->refused++;
      else if (n == ASK_WRITE_FAILED) w->write_failed++;
      else if (n == ASK_UNANSWERED) w->unanswered++;
      else w->bad++;
      if (w->errors++ < 3) fprintf(stderr, "loadgen: error: %s (%s; reply %d bytes: %.60s)\n", what, strerror(errno), n > 0 ? n : 0, n > 0 ? reply : "");
      // Nothing listens (a stopped daemon): do not spin on connect() while it is away.
      if (n == ASK_REFUSED) { struct timespec ts = {0, 1000000}; nanosleep(&ts, NULL); }
      continue;
    }
    if (strncmp(reply, "yes", 3) == 0) w->yes++, w->over++;
    else if (strncmp(reply, "action=", 7) == 0 && strstr(reply, " rule=")) w->over++;
    else if (postfix_form && strncmp(reply, "action=DUNNO", 12) != 0) w->over++;
    w->requests++;
    if (w->lat_len == w->lat_cap) {
      w->lat_cap = w->lat_cap ? w->lat_cap * 2 : 65536;
      w->lat = realloc(w->lat, w->lat_cap * sizeof *w->lat);
    }
    w->lat[w->lat_len++] = (uint32_t)((t1 - t0) * 1e6);
  }
  if (persistent_fd >= 0) close(persistent_fd);
  free(req);
  free(pad);
  return NULL;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 6 || parse_address(argv[1]) < 0) {
    fprintf(stderr, "usage: loadgen SOCKET|HOST:PORT THREADS SECONDS hot|uniform|zipf|seq NKEYS [legacy|attr|exim|postfix] [RATE]\n");
    return 64;
  }
  int threads = atoi(argv[2]);
  seconds = atof(argv[3]);
  mode = argv[4];
  nkeys = atol(argv[5]);
  no_newline = argc > 6 && strcmp(argv[6], "exim") == 0;
  attr_form = no_newline || (argc > 6 && strcmp(argv[6], "attr") == 0);
  postfix_form = argc > 6 && strcmp(argv[6], "postfix") == 0;
  rate_per_thread = argc > 7 ? atof(argv[7]) / threads : 0;
  if (nkeys < 1) nkeys = 1;
  if (strcmp(mode, "zipf") == 0) {
    zipf_cdf = malloc(nkeys * sizeof *zipf_cdf);
    double sum = 0;
    for (long i = 0; i < nkeys; i++) sum += 1.0 / (i + 1);
    double acc = 0;
    for (long i = 0; i < nkeys; i++) { acc += 1.0 / (i + 1) / sum; zipf_cdf[i] = acc; }
  }
  if (getenv("LOADGEN_PREFIX")) key_prefix = getenv("LOADGEN_PREFIX");
  if (getenv("LOADGEN_KEY_BYTES")) key_bytes = atol(getenv("LOADGEN_KEY_BYTES"));
  if (getenv("LOADGEN_SEED")) seed_base += (unsigned int)atol(getenv("LOADGEN_SEED")) * 104729u;
  struct sigaction stop_action = {.sa_handler = on_stop_signal};
  sigaction(SIGTERM, &stop_action, NULL);
  sigaction(SIGINT, &stop_action, NULL);
  worker_t *workers = calloc(threads, sizeof *workers);
  pthread_t *ids = calloc(threads, sizeof *ids);
  double start = now_s();
  for (int i = 0; i < threads; i++) { workers[i].seed = workers[i].seed_start = seed_base + i * 7919u; pthread_create(&ids[i], NULL, run, &workers[i]); }
  long requests = 0, errors = 0, yes = 0, over = 0, total = 0, refused = 0, write_failed = 0, unanswered = 0, bad = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(ids[i], NULL);
    requests += workers[i].requests; errors += workers[i].errors; yes += workers[i].yes; over += workers[i].over; total += workers[i].lat_len;
    refused += workers[i].refused; write_failed += workers[i].write_failed;
    unanswered += workers[i].unanswered; bad += workers[i].bad;
  }
  double elapsed = now_s() - start;
  uint32_t *all = malloc((total ? total : 1) * sizeof *all);
  long at = 0;
  for (int i = 0; i < threads; i++) { memcpy(all + at, workers[i].lat, workers[i].lat_len * sizeof *all); at += workers[i].lat_len; }
  qsort(all, total, sizeof *all, cmp_u32);
#define PCT(p) (total ? all[(long)fmin((double)total - 1, floor((p) * total))] : 0)
  printf("{\"requests\":%ld,\"errors\":%ld,\"yes\":%ld,\"over\":%ld,\"elapsed_s\":%.3f,\"rps\":%.0f,"
         "\"p50_us\":%u,\"p99_us\":%u,\"p999_us\":%u,\"max_us\":%u",
         requests, errors, yes, over, elapsed, requests / elapsed, PCT(0.50), PCT(0.99), PCT(0.999), total ? all[total - 1] : 0);
  printf(",\"refused\":%ld,\"write_failed\":%ld,\"unanswered\":%ld,\"bad\":%ld", refused, write_failed, unanswered, bad);
  if (getenv("LOADGEN_HISTOGRAM")) {
    // The latencies as [value, count, value, count, ...], to 1 us under 1 ms, 10 us under 10 ms, 100 us
    // under 100 ms, 1 ms beyond: runs of one server can then be merged into true percentiles.
    printf(",\"latency_us\":[");
    for (long i = 0; i < total;) {
      uint32_t v = all[i], unit = v < 1000 ? 1 : v < 10000 ? 10 : v < 100000 ? 100 : 1000, bucket = v / unit * unit;
      long count = 0;
      while (i < total && all[i] / unit * unit == bucket) { i++; count++; }
      printf("%s%u,%ld", i == count ? "" : ",", bucket, count);
    }
    printf("]");
  }
  printf("}\n");
  return 0;
}
