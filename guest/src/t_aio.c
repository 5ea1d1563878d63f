/*
 * t_aio.c - Linux native AIO (io_setup/io_submit/io_getevents/io_destroy).
 *
 * Tests: the io_* syscalls, called raw via syscall(2).  If io_setup fails
 * (a kernel without AIO, e.g. vkernel returning ENOSYS) it behaves exactly
 * like POSIX aio_read would: perror("aio_read") -> "aio_read: Function not
 * implemented" on stderr, exit 1.  If AIO works it writes a temp file
 * (in argv[1], else $TMPDIR, else /tmp), reads part of it back with an
 * IOCB_CMD_PREAD, checks the bytes and prints "aio_read: ok".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel ABI from <linux/aio_abi.h> (not shipped with musl). */
typedef unsigned long aio_context_t;

struct iocb {
    uint64_t aio_data;
    uint32_t aio_key;
    uint32_t aio_rw_flags;
    uint16_t aio_lio_opcode;
    int16_t aio_reqprio;
    uint32_t aio_fildes;
    uint64_t aio_buf;
    uint64_t aio_nbytes;
    int64_t aio_offset;
    uint64_t aio_reserved2;
    uint32_t aio_flags;
    uint32_t aio_resfd;
};

struct io_event {
    uint64_t data;
    uint64_t obj;
    int64_t res;
    int64_t res2;
};

#define IOCB_CMD_PREAD 0
#define FILE_SIZE 4096
#define READ_OFF 512
#define READ_LEN 1000

static void fail(void)
{
    perror("aio_read");
    exit(1);
}

static void fill_pattern(char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = "/* aio source-ish text */\n"[i % 26];
}

/* Create an unlinked temp file holding FILE_SIZE bytes of pattern. */
static int make_temp_file(const char *dir, const char *pattern)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/t_aio.XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        fail();
    unlink(path);
    if (write(fd, pattern, FILE_SIZE) != FILE_SIZE)
        fail();
    return fd;
}

static const char *temp_dir(int argc, char **argv)
{
    if (argc > 1)
        return argv[1];
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static void aio_pread(aio_context_t ctx, int fd, char *buf)
{
    struct iocb cb;
    struct iocb *cbs[1] = { &cb };
    struct io_event ev;

    memset(&cb, 0, sizeof cb);
    cb.aio_data = 0x1234;
    cb.aio_lio_opcode = IOCB_CMD_PREAD;
    cb.aio_fildes = fd;
    cb.aio_buf = (uint64_t)(uintptr_t)buf;
    cb.aio_nbytes = READ_LEN;
    cb.aio_offset = READ_OFF;

    if (syscall(SYS_io_submit, ctx, 1L, cbs) != 1)
        fail();
    if (syscall(SYS_io_getevents, ctx, 1L, 1L, &ev, NULL) != 1)
        fail();
    if (ev.data != 0x1234 || ev.obj != (uint64_t)(uintptr_t)&cb) {
        fprintf(stderr, "aio_read: bad completion event\n");
        exit(1);
    }
    if (ev.res != READ_LEN) {
        errno = ev.res < 0 ? (int)-ev.res : EIO;
        fail();
    }
}

int main(int argc, char **argv)
{
    aio_context_t ctx = 0;
    static char pattern[FILE_SIZE], buf[READ_LEN];

    if (syscall(SYS_io_setup, 128, &ctx) < 0)
        fail();

    fill_pattern(pattern, sizeof pattern);
    int fd = make_temp_file(temp_dir(argc, argv), pattern);
    aio_pread(ctx, fd, buf);
    if (memcmp(buf, pattern + READ_OFF, READ_LEN) != 0) {
        fprintf(stderr, "aio_read: data mismatch\n");
        return 1;
    }
    if (syscall(SYS_io_destroy, ctx) < 0)
        fail();
    close(fd);
    printf("aio_read: ok\n");
    return 0;
}
