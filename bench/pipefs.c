/*
 * pipefs: the cheapest streaming FUSE client we could write, used by `npm run bench` as the ceiling for
 * any mount on this machine ("read ceiling" in section 1; docs/READ-PATH.md).
 *
 * One file, /big.bin, of PIPEFS_SIZE bytes. read() is answered straight from file descriptor 3, which the
 * bench connects to `curl` of the file's download URL: no cache, no JavaScript, no HTTP parsing of our
 * own, one extra copy through the pipe. Reads must arrive in order, so run it single-threaded (-s); an
 * out-of-order read answers EIO and is reported on stderr, so a broken measurement fails loudly.
 *
 *   curl -s URL | PIPEFS_SIZE=N pipefs MNT -f -s -o max_background=64,congestion_threshold=48 3<&0
 *
 * PIPEFS_MEM=1: no input at all; every read is answered by one memcpy from a static 1 MiB block (any order).
 * That is the ceiling of a cold read through FUSE itself on this machine: the kernel's request round trip
 * and page-cache placement, with data that costs nothing to get.
 *
 * libfuse 3, like the fuse-native build: requests are up to 1 MiB (max_pages follows max_write). The
 * connection options (max_write=, max_background=, ...) are parsed before fuse_main, which would refuse
 * them, and applied in init. Built by scripts/bench.sh with `cc ... $(pkg-config --cflags --libs fuse3)`
 * (libfuse3-dev, which the fuse-native source build needs anyway).
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static off_t size, pos;
static char *mem; /* PIPEFS_MEM: the block every read is copied from */
static struct fuse_conn_info_opts *conn_opts;

static void *pf_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  (void)cfg;
  fuse_apply_conn_info_opts(conn_opts, conn);
  return NULL;
}

static int pf_getattr(const char *p, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  memset(st, 0, sizeof *st);
  if (strcmp(p, "/") == 0) { st->st_mode = S_IFDIR | 0755; st->st_nlink = 2; return 0; }
  if (strcmp(p, "/big.bin") == 0) { st->st_mode = S_IFREG | 0444; st->st_nlink = 1; st->st_size = size; return 0; }
  return -ENOENT;
}

static int pf_readdir(const char *p, void *b, fuse_fill_dir_t fill, off_t o, struct fuse_file_info *fi,
                      enum fuse_readdir_flags fl) {
  (void)p; (void)o; (void)fi; (void)fl;
  fill(b, ".", 0, 0, 0); fill(b, "..", 0, 0, 0); fill(b, "big.bin", 0, 0, 0);
  return 0;
}

static int pf_read(const char *p, char *buf, size_t n, off_t o, struct fuse_file_info *fi) {
  (void)p; (void)fi;
  if (o >= size) return 0;
  if (o + (off_t)n > size) n = (size_t)(size - o);
  if (mem) {
    for (size_t k = 0; k < n; k += 1 << 20) memcpy(buf + k, mem, n - k < (1 << 20) ? n - k : 1 << 20);
    return (int)n;
  }
  if (o != pos) {
    fprintf(stderr, "pipefs: read at %lld, expected %lld (not sequential)\n", (long long)o, (long long)pos);
    return -EIO;
  }
  size_t got = 0;
  while (got < n) {
    ssize_t k = read(3, buf + got, n - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      fprintf(stderr, "pipefs: input ended at %lld: %s\n", (long long)(pos + got), k < 0 ? strerror(errno) : "EOF");
      return -EIO;
    }
    got += (size_t)k;
  }
  pos += (off_t)n;
  return (int)n;
}

static struct fuse_operations ops = { .init = pf_init, .getattr = pf_getattr, .readdir = pf_readdir, .read = pf_read };

int main(int argc, char **argv) {
  const char *s = getenv("PIPEFS_SIZE");
  if (!s) { fprintf(stderr, "pipefs: set PIPEFS_SIZE and give the data on fd 3 (or set PIPEFS_MEM=1)\n"); return 2; }
  size = (off_t)strtoll(s, NULL, 10);
  if (getenv("PIPEFS_MEM")) {
    mem = malloc(1 << 20);
    if (!mem) return 2;
    for (int k = 0; k < 1 << 20; k++) mem[k] = (char)(k * 31 + 7);
  } else {
    fcntl(3, F_SETPIPE_SZ, 1 << 20); /* fewer wake-ups; ignored if fd 3 is not a pipe */
  }
  struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
  conn_opts = fuse_parse_conn_info_opts(&args);
  if (!conn_opts) return 2;
  int r = fuse_main(args.argc, args.argv, &ops, NULL);
  fuse_opt_free_args(&args);
  return r;
}
