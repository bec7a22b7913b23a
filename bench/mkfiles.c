/* mkfiles: create N small files in DIR as fast as one process can (open O_CREAT, write, close).
 *   mkfiles DIR N SIZE
 * Content is distinct per file (its index in the first bytes). Prints: files=N secs=S rate=R errors=E
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: mkfiles DIR N SIZE\n"); return 2; }
  const char *dir = argv[1]; int n = atoi(argv[2]); size_t size = (size_t)atol(argv[3]);
  char *buf = malloc(size + 64); char path[4096]; int errors = 0;
  for (size_t i = 0; i < size; i++) buf[i] = (char)('a' + i % 26);
  double t0 = now();
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f%05d", dir, i);
    int len = snprintf(buf, 64, "file %d\n", i); buf[len] = '-';
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) { errors++; continue; }
    if (write(fd, buf, size) != (ssize_t)size) errors++;
    if (close(fd) != 0) errors++;
  }
  double s = now() - t0;
  printf("files=%d secs=%.3f rate=%.0f errors=%d\n", n, s, n / s, errors);
  return errors ? 1 : 0;
}
