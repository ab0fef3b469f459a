/* Opening and reading the files a user names: never block on a FIFO or device, refuse what
 * is not a regular file in one line, and check a size against its limit before allocating.
 * Creating the temporary files of atomic writes exclusively (never through a planted link),
 * and removing those that writers killed before their rename left behind. */
#include "genc/core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_kind(mode_t m) {
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "a special file";
}

genc_status genc_file_open(genc_ctx *ctx, const char *path, int *fd, int64_t *size) {
    *fd = -1;
    if (!path || !*path) return genc_error(ctx, GENC_EINVAL, "expected a file name, found an empty one");
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (f < 0) return genc_error(ctx, GENC_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(f, &sb) != 0) {
        int err = errno;
        close(f);
        return genc_error(ctx, GENC_EIO, "%s: cannot stat: %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(f);
        return genc_error(ctx, GENC_EIO, "%s: expected a regular file, found %s", path, file_kind(sb.st_mode));
    }
    int fl = fcntl(f, F_GETFL); /* reads of a regular file never block; back to plain reads */
    if (fl >= 0) fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
    *fd = f;
    *size = (int64_t)sb.st_size;
    return GENC_OK;
}

/* Standard input, read once to its end (at most max_bytes) and kept for later reads of "-". */
static genc_status read_stdin(genc_ctx *ctx, int64_t max_bytes, uint8_t **buf, size_t *n) {
    static uint8_t *kept;
    static size_t kept_n;
    static bool done;
    size_t cap = 1 << 16;
    while (!done) {
        uint8_t *b = realloc(kept, cap + 1);
        if (!b) return genc_error(ctx, GENC_ENOMEM, "-: out of memory reading standard input");
        kept = b;
        ssize_t r = read(0, kept + kept_n, cap - kept_n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return genc_error(ctx, GENC_EIO, "-: cannot read standard input: %s", strerror(errno));
        kept_n += (size_t)r, done = r == 0;
        if (max_bytes > 0 && (int64_t)kept_n > max_bytes)
            return genc_error(ctx, GENC_EINVAL, "-: standard input holds more than the limit of %lld bytes for this input",
                              (long long)max_bytes);
        if (kept_n == cap) cap *= 2;
    }
    if (!(*buf = malloc(kept_n + 1))) return genc_error(ctx, GENC_ENOMEM, "-: out of memory");
    if (kept_n) memcpy(*buf, kept, kept_n);
    (*buf)[kept_n] = 0, *n = kept_n;
    return GENC_OK;
}

genc_status genc_file_read_all(genc_ctx *ctx, const char *path, int64_t max_bytes, uint8_t **buf, size_t *n) {
    *buf = NULL, *n = 0;
    if (!strcmp(path, "-")) return read_stdin(ctx, max_bytes, buf, n);
    int fd;
    int64_t size;
    genc_status s = genc_file_open(ctx, path, &fd, &size);
    if (s) return s;
    if (max_bytes > 0 && size > max_bytes) {
        close(fd);
        return genc_error(ctx, GENC_EINVAL, "%s: %lld bytes, more than the limit of %lld bytes for this input", path,
                          (long long)size, (long long)max_bytes);
    }
    if ((uint64_t)size >= SIZE_MAX) {
        close(fd);
        return genc_error(ctx, GENC_ENOMEM, "%s: %lld bytes do not fit in memory", path, (long long)size);
    }
    uint8_t *b = malloc((size_t)size + 1);
    if (!b) {
        close(fd);
        return genc_error(ctx, GENC_ENOMEM, "%s: out of memory for its %lld bytes", path, (long long)size);
    }
    size_t got = 0;
    while (got < (size_t)size) { /* a file that grows meanwhile is read as it was stat'ed */
        ssize_t r = read(fd, b + got, (size_t)size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int err = errno;
            close(fd), free(b);
            return genc_error(ctx, GENC_EIO, "%s: cannot read: %s", path, strerror(err));
        }
        if (r == 0) break; /* it shrank: what is there */
        got += (size_t)r;
    }
    close(fd);
    b[got] = 0;
    *buf = b, *n = got;
    return GENC_OK;
}

/* ---- temporary files of atomic writes: "<path>.tmp.<pid>" ---- */

/* `name` is "<base>.tmp.<pid>" (any base when base is NULL) of a process that is gone. */
static bool stale_tmp(const char *name, const char *base) {
    const char *t = NULL;
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) t = p;
    if (!t || (base && ((size_t)(t - name) != strlen(base) || strncmp(name, base, strlen(base)))))
        return false;
    const char *digits = t + 5;
    if (!*digits || strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 9) return false;
    long pid = strtol(digits, NULL, 10);
    if (pid <= 0 || pid == (long)getpid()) return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int genc_file_remove_stale_tmp(const char *dir, const char *base) {
    DIR *d = opendir(dir && *dir ? dir : ".");
    if (!d) return 0;
    int removed = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (stale_tmp(e->d_name, base) && unlinkat(dirfd(d), e->d_name, 0) == 0) removed++;
    closedir(d);
    return removed;
}

genc_status genc_file_create_tmp(genc_ctx *ctx, const char *path, char *tmp, size_t cap, int *fd) {
    *fd = -1;
    if ((size_t)snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid()) >= cap)
        return genc_error(ctx, GENC_EINVAL, "%.64s...: path too long", path);
    char dir[4200];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
    genc_file_remove_stale_tmp(dir, slash ? slash + 1 : path);
    for (int attempt = 0; attempt < 2; attempt++) {
        /* O_EXCL | O_NOFOLLOW: a file or symlink planted at this name is never written through */
        *fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (*fd >= 0) return GENC_OK;
        if (errno != EEXIST || attempt) break;
        unlink(tmp); /* a leftover of a dead process with our pid, or a planted link: the name, not its target */
    }
    return genc_error(ctx, GENC_EIO, "%s: cannot create temporary file %s: %s", path, tmp, strerror(errno));
}
