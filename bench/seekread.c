// seekread FILE OFFSET...: one open, then a 4 KiB pread at each offset in turn; prints the milliseconds
// each pread took, one per line (the WAN section's seek latency: a player or a zip reader jumping around).
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: seekread FILE OFFSET...\n");
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) {
    perror("open");
    return 1;
  }
  static char buf[4096];
  for (int i = 2; i < argc; i++) {
    off_t off = strtoll(argv[i], NULL, 10);
    double t0 = ms();
    ssize_t n = pread(fd, buf, sizeof buf, off);
    double t1 = ms();
    if (n != (ssize_t)sizeof buf) {
      fprintf(stderr, "pread at %lld: %zd\n", (long long)off, n);
      return 1;
    }
    printf("%.3f\n", t1 - t0);
  }
  close(fd);
  return 0;
}
