// The C baseline: accept, read to EOF, answer "no", close; one thread with epoll, like the Bun one.
// Shows how far the load generator itself can go on this machine. ADDRESS: a Unix socket path, or
// HOST:PORT (IPv4) for loopback TCP.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: reference-server SOCKET|HOST:PORT\n"); return 64; }
  const char *colon = strrchr(argv[1], ':');
  int tcp = colon && !strchr(argv[1], '/');
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  struct sockaddr_in in = {.sin_family = AF_INET};
  if (tcp) {
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - argv[1]), argv[1]);
    in.sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &in.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", argv[1]); return 64; }
  } else {
    unlink(argv[1]);
    strncpy(un.sun_path, argv[1], sizeof un.sun_path - 1);
  }
  int listener = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int on = 1;
  if (tcp) setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (bind(listener, tcp ? (struct sockaddr *)&in : (struct sockaddr *)&un, tcp ? sizeof in : sizeof un) < 0 ||
      listen(listener, 512) < 0) { perror("listen"); return 1; }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  fprintf(stderr, "reference: listening\n");
  struct epoll_event events[256];
  char buf[4096];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int client;
        while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = client};
          epoll_ctl(ep, EPOLL_CTL_ADD, client, &cev);
        }
        continue;
      }
      for (;;) {
        ssize_t got = read(fd, buf, sizeof buf);
        if (got > 0) continue;
        if (got == 0) { (void)!write(fd, "no", 2); close(fd); }
        else if (errno != EAGAIN) close(fd);
        break;
      }
    }
  }
}
