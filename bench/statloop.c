/* statloop: stat() throughput from one process, for pan123fs benchmarks.
 *   statloop [-f] [-t SECONDS] [-n COUNT] [-d DIR] [PATH...]
 * -f  use statx(AT_STATX_FORCE_SYNC): FUSE must ask the daemon (bypasses the kernel attribute cache)
 * -d  stat every entry of DIR (names read once with readdir), round robin; else the PATHs given
 * Stops after COUNT calls or SECONDS (default 2 s), whichever first. Prints:
 *   ops=N secs=S rate=R errors=E
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
  int force = 0, opt; double secs = 2.0; long count = -1; const char *dir = NULL;
  while ((opt = getopt(argc, argv, "ft:n:d:")) != -1) {
    if (opt == 'f') force = 1; else if (opt == 't') secs = atof(optarg);
    else if (opt == 'n') count = atol(optarg); else if (opt == 'd') dir = optarg;
    else { fprintf(stderr, "usage: statloop [-f] [-t s] [-n count] [-d dir] [path...]\n"); return 2; }
  }
  char **paths = NULL; long np = 0, cap = 0;
  if (dir) {
    DIR *d = opendir(dir); if (!d) { perror(dir); return 1; }
    struct dirent *e;
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      if (np == cap) { cap = cap ? cap * 2 : 1024; paths = realloc(paths, cap * sizeof *paths); }
      size_t l = strlen(dir) + strlen(e->d_name) + 2; paths[np] = malloc(l);
      snprintf(paths[np++], l, "%s/%s", dir, e->d_name);
    }
    closedir(d);
  } else { paths = argv + optind; np = argc - optind; }
  if (np == 0) { fprintf(stderr, "statloop: nothing to stat\n"); return 2; }
  long ops = 0, errors = 0; double t0 = now(), t = t0;
  for (;;) {
    for (int k = 0; k < 256; k++) {
      const char *p = paths[ops % np];
      int r;
      if (force) { struct statx sx; r = statx(AT_FDCWD, p, AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx); }
      else { struct stat st; r = stat(p, &st); }
      if (r != 0) errors++;
      ops++;
      if (count > 0 && ops >= count) break;
    }
    t = now();
    if ((count > 0 && ops >= count) || (count <= 0 && t - t0 >= secs)) break;
  }
  printf("ops=%ld secs=%.6f rate=%.0f errors=%ld\n", ops, t - t0, ops / (t - t0), errors);
  return errors ? 1 : 0;
}
