/*
 * t_hello.c - the smallest useful guest: write(2) of a fixed line.
 *
 * Tests: execve of a static binary, write(2) to fd 1, exit_group.
 * Prints: "hello, world\n".
 */
#include <unistd.h>

int main(void)
{
    static const char msg[] = "hello, world\n";
    if (write(1, msg, sizeof msg - 1) != (ssize_t)(sizeof msg - 1))
        return 1;
    return 0;
}
