// The C baseline: accept, read to EOF, answer "no", close; one thread with epoll, like the Bun one.
#define _GNU_SOURCE
// Shows how far the load generator itself can go on this machine.
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
  if (argc < 2) { fprintf(stderr, "usage: reference-server SOCKET\n"); return 64; }
  unlink(argv[1]);
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 512) < 0) { perror("listen"); return 1; }
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
