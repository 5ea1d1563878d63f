/*
 * t_true.c - exits 0 immediately.
 *
 * Tests: nothing beyond process start-up and exit; used by the fork/exec
 * benchmarks to measure the cost of spawning a process.  Prints nothing.
 */
int main(void)
{
    return 0;
}
