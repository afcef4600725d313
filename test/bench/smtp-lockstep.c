// Lock-step SMTP driver for `exim -bh`: starts the command given after `--` with pipes on its stdin and
// stdout (stderr, Exim's ">>>" trace, to /dev/null), says EHLO, then runs TRANSACTIONS times for each row
// MAIL FROM / RCPT TO / RSET, writing each command only after the reply to the previous one (no pipelining,
// as a client that waits for every answer), and QUIT. The rows take turns transaction by transaction
// (forward, then backward), so that the machine's drift falls on all of them alike. Only the transactions
// are timed: Exim's start, banner and EHLO are not.
// Usage: smtp-lockstep TRANSACTIONS SENDER RECIPIENT EXPECT [SENDER RECIPIENT EXPECT]... -- COMMAND [ARG...]
//   SENDER: "{i}" in it becomes the transaction's number (user{i}@example.org: a new sender each time).
//   RECIPIENT: tells the Exim config which row this is (by its local part).
//   EXPECT: text every RCPT reply of the row must contain (e.g. "action=accept": the lookup answered).
// Prints one JSON object: per row, the mean time per transaction, percentiles, and the replies that were
// not as expected.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int to_exim, from_exim;
static char buf[65536];
static size_t buf_len;

typedef struct {
  const char *sender, *recipient, *expect;
  double *times;
  long done, unexpected;
  char first_unexpected[512], last_rcpt_reply[512];
} row_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Reads one SMTP reply (all its lines; the last has a space after the code) into `reply`, joined by "|".
static int read_reply(char *reply, size_t cap) {
  size_t out = 0;
  for (;;) {
    char *eol = memchr(buf, '\n', buf_len);
    if (!eol) {
      if (buf_len == sizeof buf) return -1;
      ssize_t n = read(from_exim, buf + buf_len, sizeof buf - buf_len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return -1;
      buf_len += n;
      continue;
    }
    size_t line_len = eol - buf + 1;
    size_t text_len = line_len - 1 - (line_len > 1 && eol[-1] == '\r');
    int last = text_len >= 4 && buf[3] == ' ';
    int is_reply = text_len >= 4 && buf[0] >= '1' && buf[0] <= '5' && (buf[3] == ' ' || buf[3] == '-');
    if (is_reply) {
      if (out && out < cap - 1) reply[out++] = '|';
      size_t copy = text_len < cap - 1 - out ? text_len : cap - 1 - out;
      memcpy(reply + out, buf, copy);
      out += copy;
    }
    memmove(buf, buf + line_len, buf_len - line_len);
    buf_len -= line_len;
    if (is_reply && last) break; // lines that are not replies ("**** SMTP testing session …") are skipped
  }
  reply[out] = 0;
  return (int)out;
}

static int say(const char *command, char *reply, size_t cap) {
  size_t len = strlen(command);
  if (write(to_exim, command, len) != (ssize_t)len) return -1;
  return read_reply(reply, cap);
}

// "MAIL FROM:<SENDER>" with "{i}" in SENDER replaced by the transaction's number (distinct senders).
static void mail_command(char *out, size_t cap, const char *sender, long i) {
  const char *at = strstr(sender, "{i}");
  if (at) snprintf(out, cap, "MAIL FROM:<%.*s%ld%s>\r\n", (int)(at - sender), sender, i, at + 3);
  else snprintf(out, cap, "MAIL FROM:<%s>\r\n", sender);
}

// One MAIL / RCPT / RSET; returns 0 if Exim went away.
static int transaction(row_t *row, long i) {
  char mail[512], rcpt[512], mail_reply[512], rset_reply[512];
  mail_command(mail, sizeof mail, row->sender, i);
  snprintf(rcpt, sizeof rcpt, "RCPT TO:<%s>\r\n", row->recipient);
  double t0 = now_s();
  int gone = say(mail, mail_reply, sizeof mail_reply) < 0;
  int mail_ok = !gone && strncmp(mail_reply, "250", 3) == 0;
  char *rcpt_reply = row->last_rcpt_reply;
  gone = gone || (mail_ok && say(rcpt, rcpt_reply, sizeof row->last_rcpt_reply) < 0);
  int rcpt_ok = mail_ok && !gone && strncmp(rcpt_reply, "250", 3) == 0 && strstr(rcpt_reply, row->expect);
  gone = gone || say("RSET\r\n", rset_reply, sizeof rset_reply) < 0;
  int rset_ok = !gone && strncmp(rset_reply, "250", 3) == 0;
  row->times[row->done++] = now_s() - t0;
  if (!(mail_ok && rcpt_ok && rset_ok) && row->unexpected++ == 0) {
    const char *what = gone ? "(Exim closed the session)" : !mail_ok ? mail_reply : !rcpt_ok ? rcpt_reply : rset_reply;
    snprintf(row->first_unexpected, sizeof row->first_unexpected, "%s", what);
  }
  return !gone;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

// JSON string body: the replies are ASCII from Exim, but quotes and backslashes must not break the output.
static void print_json_text(const char *text) {
  for (; *text; text++) {
    if (*text == '"' || *text == '\\') putchar('\\');
    putchar((unsigned char)*text >= 0x20 ? *text : '?');
  }
}

int main(int argc, char **argv) {
  int separator = 2;
  while (separator < argc && strcmp(argv[separator], "--") != 0) separator++;
  int nrows = (separator - 2) / 3;
  if (argc < 3 || separator >= argc - 1 || nrows < 1 || (separator - 2) % 3 != 0) {
    fprintf(stderr, "usage: smtp-lockstep TRANSACTIONS SENDER RECIPIENT EXPECT [...] -- COMMAND [ARG...]\n");
    return 64;
  }
  long transactions = atol(argv[1]);
  row_t *rows = calloc(nrows, sizeof *rows);
  for (int r = 0; r < nrows; r++) {
    rows[r].sender = argv[2 + 3 * r];
    rows[r].recipient = argv[3 + 3 * r];
    rows[r].expect = argv[4 + 3 * r];
    rows[r].times = malloc((transactions > 0 ? transactions : 1) * sizeof *rows[r].times);
  }
  int in[2], out[2];
  if (pipe(in) < 0 || pipe(out) < 0) { perror("pipe"); return 1; }
  pid_t child = fork();
  if (child == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    close(in[1]);
    close(out[0]);
    execvp(argv[separator + 1], argv + separator + 1);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  to_exim = in[1];
  from_exim = out[0];

  char reply[4096] = "";
  if (read_reply(reply, sizeof reply) < 0 || strncmp(reply, "220", 3) != 0 ||
      say("EHLO client.example\r\n", reply, sizeof reply) < 0 || strncmp(reply, "250", 3) != 0) {
    fprintf(stderr, "smtp-lockstep: no banner or EHLO reply (last: %s)\n", reply);
    return 1;
  }
  double start = now_s();
  int alive = 1;
  for (long i = 0; i < transactions && alive; i++) {
    for (int k = 0; k < nrows && alive; k++) alive = transaction(&rows[i % 2 ? nrows - 1 - k : k], i);
  }
  double elapsed = now_s() - start;
  say("QUIT\r\n", reply, sizeof reply);
  close(to_exim);
  int status;
  waitpid(child, &status, 0);
  printf("{\"elapsed_s\":%.4f,\"exit_status\":%d,\"rows\":[", elapsed,
         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  for (int r = 0; r < nrows; r++) {
    row_t *row = &rows[r];
    double sum = 0;
    for (long i = 0; i < row->done; i++) sum += row->times[i];
    qsort(row->times, row->done, sizeof *row->times, cmp_double);
#define PCT(p) (row->done ? row->times[(long)fmin((double)row->done - 1, floor((p) * row->done))] * 1e6 : 0)
    printf("%s{\"recipient\":\"", r ? "," : "");
    print_json_text(row->recipient);
    printf("\",\"transactions\":%ld,\"us_per_transaction\":%.1f,\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,"
           "\"max_us\":%.0f,\"unexpected\":%ld,\"first_unexpected\":\"",
           row->done, row->done ? sum / row->done * 1e6 : 0, PCT(0.5), PCT(0.9), PCT(0.99), PCT(1.0), row->unexpected);
    print_json_text(row->first_unexpected);
    printf("\",\"last_rcpt_reply\":\"");
    print_json_text(row->last_rcpt_reply);
    printf("\"}");
  }
  printf("]}\n");
  return 0;
}
