/*
 * t_ktrace_io.c - a tiny, fixed syscall sequence for the ktrace/kdump tests.
 *
 * Tests: write(2) of a fixed 36-byte line to fd 1, open(2) of /etc/passwd
 * (the result is ignored; closed if it succeeded), then write(2) of "done".
 * Uses no stdio so the traced syscall sequence stays minimal.
 * Prints: "ktrace io line: 0123456789abcdefghi\n" (36 bytes) and "done\n".
 */
#include <fcntl.h>
#include <unistd.h>

#define LINE "ktrace io line: 0123456789abcdefghi\n"

_Static_assert(sizeof LINE - 1 == 36, "ktrace line must be 36 bytes");

int main(void)
{
    if (write(1, LINE, 36) != 36)
        return 1;
    int fd = open("/etc/passwd", O_RDONLY);
    if (fd >= 0)
        close(fd);
    if (write(1, "done\n", 5) != 5)
        return 1;
    return 0;
}
