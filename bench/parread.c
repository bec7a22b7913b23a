/* parread: bursts of parallel readers, for pan123fs benchmarks (fuse-native thread churn, issue 6).
 *   parread N BURSTS FILE...
 * Each burst forks N children; child i opens FILE[i % nfiles], drops that file's page cache
 * (posix_fadvise DONTNEED, so the read reaches the daemon), reads it to EOF and exits. The parent
 * waits for all N before the next burst. Prints: bursts=B readers=N secs=S errors=E
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static int reader(const char *p) {
  int fd = open(p, O_RDONLY); if (fd < 0) return 1;
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  static char buf[65536]; ssize_t r;
  while ((r = read(fd, buf, sizeof buf)) > 0) {}
  close(fd);
  return r < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: parread N BURSTS FILE...\n"); return 2; }
  int n = atoi(argv[1]), bursts = atoi(argv[2]), nf = argc - 3, errors = 0;
  double t0 = now();
  for (int b = 0; b < bursts; b++) {
    for (int i = 0; i < n; i++) {
      pid_t p = fork();
      if (p == 0) _exit(reader(argv[3 + i % nf]));
      if (p < 0) { perror("fork"); return 1; }
    }
    int st;
    for (int i = 0; i < n; i++) { if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) errors++; }
  }
  printf("bursts=%d readers=%d secs=%.3f errors=%d\n", bursts, n, now() - t0, errors);
  return errors ? 1 : 0;
}
