/* Opening and reading the files a user names: never block on a FIFO or device, refuse what
 * is not a regular file in one line, and check a size against its limit before allocating. */
#include "genc/core.h"

#include <errno.h>
#include <fcntl.h>
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

genc_status genc_file_read_all(genc_ctx *ctx, const char *path, int64_t max_bytes, uint8_t **buf, size_t *n) {
    *buf = NULL, *n = 0;
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
