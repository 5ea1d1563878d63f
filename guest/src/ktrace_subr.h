/*
 * ktrace_subr.h: what ktrace(1) and kdump(1) share (BSD usr.bin/ktrace/subr.c):
 * the -t facility letters and getopt diagnostics in BSD's words.
 * The including program defines usage() before including this file.
 */
#ifndef KTRACE_SUBR_H
#define KTRACE_SUBR_H

/* BSD getopt(3)'s diagnostics (musl words them differently), then usage. */
static void bad_option(int ch)
{
    if (ch == ':')
        warnx("option requires an argument -- %c", optopt);
    else
        warnx("illegal option -- %c", optopt);
    usage();
}

/* -t cnisuw+: the KTRFAC_* bits, or -1 for an unknown letter. */
static int getpoints(const char *s)
{
    int facs = 0;

    for (; *s; s++) {
        switch (*s) {
        case 'c': facs |= KTRFAC_SYSCALL | KTRFAC_SYSRET; break;
        case 'n': facs |= KTRFAC_NAMEI; break;
        case 'i': facs |= KTRFAC_GENIO; break;
        case 's': facs |= KTRFAC_PSIG; break;
        case 'u': facs |= KTRFAC_USER; break;
        case 'w': facs |= KTRFAC_CSW; break;
        case '+': facs |= DEF_POINTS; break;
        default: return -1;
        }
    }
    return facs;
}

#endif
