/*
 * kdump.c - kdump(1): print a ktrace(1) trace file (DragonFly's formats).
 *
 * Usage: kdump [-acdjlnRT] [-f trfile] [-m maxdata] [-p pid] [-t cnisuw]
 *
 * DragonFly counterpart: usr.bin/kdump/kdump.c.  Reads the records laid out
 * in vkernel/abi/vkernel/ktrace.py (structs from the generated vk_ktrace.h)
 * and prints one line per record, e.g.
 *       692 t_aio    CALL  io_setup(0x80,0x7ffd4a3c1e28)
 *       692 t_aio    RET   io_setup -1 errno 38 Function not implemented
 * with Linux syscall names, strerror() texts and signal names from the
 * generated vk_names.h.  ktr_tid is a Linux tid, so the header shows
 * pid:tid only for KTRH_THREADED records or with -j (DragonFly before
 * 2019 printed a plain pid for single-threaded processes).
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vk_ktrace.h"
#include "vk_names.h"

#define DEF_TRACEFILE "ktrace.out"

static int timestamp, decimal, fancy = 1, tail, maxdata = 64, fixedformat, cpustamp;
static const char *tracefile = DEF_TRACEFILE;

static void usage(void)
{
    fprintf(stderr, "usage: kdump [-acdjlnRT] [-f trfile] [-m maxdata] [-p pid] "
                    "[-t [cnisuw]]\n");
    exit(1);
}

#include "ktrace_subr.h"

/* fread(3) that, with -l, waits for the tracer to append more. */
static size_t fread_tail(void *buf, size_t size)
{
    size_t i;

    while ((i = fread(buf, size, 1, stdin)) == 0 && tail) {
        sleep(1);
        clearerr(stdin);
    }
    return i;
}

static const char *syscallname(int code)
{
    return code >= 0 && code < NSYSCALLNAMES ? syscallnames[code] : NULL;
}

static void print_code(int code, const char *after)
{
    const char *name = syscallname(code);

    if (name)
        printf("%s%s", name, after);
    else
        printf("[%d]%s", code, after);
}

static const char *type_name(int type)
{
    static char unknown[64];

    switch (type) {
    case KTR_SYSCALL: return "CALL";
    case KTR_SYSRET: return "RET ";
    case KTR_NAMEI: return "NAMI";
    case KTR_GENIO: return "GIO ";
    case KTR_PSIG: return "PSIG";
    case KTR_CSW: return "CSW";
    case KTR_USER: return "USER";
    }
    snprintf(unknown, sizeof unknown, "UNKNOWN(%d)", type);
    return unknown;
}

static void dumpheader(const struct ktr_header *kth)
{
    static int64_t prev_sec, prev_usec;
    int64_t sec = kth->ktr_tv_sec, usec = kth->ktr_tv_usec;

    if ((kth->ktr_flags & KTRH_THREADED) || fixedformat)
        printf("%5d:%-4d", kth->ktr_pid, kth->ktr_tid);
    else
        printf("%5d", kth->ktr_pid);
    if (cpustamp)
        printf(" %2d", KTRH_CPUID_DECODE(kth->ktr_flags));
    printf(" %-8.*s ", MAXCOMLEN, kth->ktr_comm);
    if (timestamp) {
        if (timestamp == 2) {       /* relative to the previous record */
            sec -= prev_sec;
            usec -= prev_usec;
            if (usec < 0) {
                sec--;
                usec += 1000000;
            }
            prev_sec = kth->ktr_tv_sec;
            prev_usec = kth->ktr_tv_usec;
        }
        printf("%ld.%06ld ", (long)sec, (long)usec);
    }
    printf("%s  ", type_name(kth->ktr_type));
}

static void ktrsyscall(const struct ktr_syscall *ktr, int len)
{
    const int64_t *ip = (const int64_t *)(ktr + 1);
    int narg = ktr->ktr_narg;
    char c = '(';

    if (narg < 0 || (size_t)len < sizeof *ktr + narg * sizeof *ip)
        narg = 0;
    print_code(ktr->ktr_code, "");
    if (narg) {
        for (; narg; narg--, ip++, c = ',') {
            if (decimal)
                printf("%c%ld", c, (long)*ip);
            else
                printf("%c%#lx", c, (long)*ip);
        }
        putchar(')');
    }
    putchar('\n');
}

static void ktrsysret(const struct ktr_sysret *ktr)
{
    long ret = ktr->ktr_retval;
    int error = ktr->ktr_error;

    print_code(ktr->ktr_code, " ");
    if (error == 0) {
        if (fancy) {
            printf("%ld", ret);
            if (ret < 0 || ret > 9)
                printf("/%#lx", ret);
        } else if (decimal) {
            printf("%ld", ret);
        } else {
            printf("%#lx", ret);
        }
    } else if (error >= 512 && error <= 516) {
        printf("RESTART");          /* Linux's ERESTART* family */
    } else {
        printf("-1 errno %d", error);
        if (fancy)
            printf(" %s", error > 0 && error < NERRNOSTRS && errnostrs[error]
                              ? errnostrs[error] : "Unknown error");
    }
    putchar('\n');
}

static void ktrnamei(const char *cp, int len)
{
    printf("\"%.*s\"\n", len, cp);
}

/* vis(3) with VIS_CSTYLE: printables, space, tab and newline pass through. */
static void vis_cstyle(char *dst, unsigned char c, unsigned char next)
{
    const char *esc = NULL;

    if ((c > ' ' && c < 0x7f) || c == ' ' || c == '\t' || c == '\n') {
        *dst++ = c;
        if (c == '\\')
            *dst++ = '\\';
        *dst = '\0';
        return;
    }
    switch (c) {
    case '\r': esc = "\\r"; break;
    case '\b': esc = "\\b"; break;
    case '\a': esc = "\\a"; break;
    case '\v': esc = "\\v"; break;
    case '\f': esc = "\\f"; break;
    case '\0': esc = next >= '0' && next <= '7' ? "\\000" : "\\0"; break;
    }
    if (esc) {
        strcpy(dst, esc);
        return;
    }
    if ((c & 0177) == ' ') {
        sprintf(dst, "\\%03o", c);
        return;
    }
    *dst++ = '\\';
    if (c & 0200) {
        c &= 0177;
        *dst++ = 'M';
    }
    if (c < ' ' || c == 0177) {
        *dst++ = '^';
        *dst++ = c == 0177 ? '?' : c + '@';
    } else {
        *dst++ = '-';
        *dst++ = c;
    }
    *dst = '\0';
}

static int screen_width(void)
{
    struct winsize ws;

    if (fancy && ioctl(fileno(stderr), TIOCGWINSZ, &ws) != -1 && ws.ws_col > 8)
        return ws.ws_col;
    return 80;
}

static void ktrgenio(const struct ktr_genio *ktr, int len)
{
    static int screenwidth;
    int datalen = len - (int)sizeof *ktr, col, width;
    const unsigned char *dp = (const unsigned char *)(ktr + 1);
    char visbuf[8];

    if (screenwidth == 0)
        screenwidth = screen_width();
    printf("fd %d %s %d byte%s\n", ktr->ktr_fd, ktr->ktr_rw == UIO_READ ? "read" : "wrote",
           datalen, datalen == 1 ? "" : "s");
    if (maxdata && datalen > maxdata)
        datalen = maxdata;
    printf("       \"");
    col = 8;
    for (; datalen > 0; datalen--, dp++) {
        vis_cstyle(visbuf, *dp, datalen > 1 ? dp[1] : 0);
        if (col == 0) {
            putchar('\t');
            col = 8;
        }
        if (visbuf[0] == '\n') {
            col = 0;
            putchar('\n');
            continue;
        }
        width = visbuf[0] == '\t' ? 8 - (col & 07) : (int)strlen(visbuf);
        if (col + width > screenwidth - 2) {
            printf("\\\n\t");
            col = 8;
        }
        col += width;
        fputs(visbuf, stdout);
    }
    if (col == 0)
        printf("       ");
    printf("\"\n");
}

static void ktrpsig(const struct ktr_psig *psig)
{
    const char *name = psig->signo > 0 && psig->signo < NSIGNAMES ? signames[psig->signo] : NULL;

    if (name)
        printf("%s ", name);
    else
        printf("SIG%d ", psig->signo);
    if (psig->action == 0)          /* SIG_DFL */
        printf("SIG_DFL\n");
    else
        printf("caught handler=0x%lx mask=0x%lx code=0x%x\n", (unsigned long)psig->action,
               (unsigned long)psig->mask, (unsigned)psig->code);
}

static void ktrcsw(const struct ktr_csw *cs)
{
    printf("%s %s\n", cs->out ? "stop" : "resume", cs->user ? "user" : "kernel");
}

static void ktruser(int len, const unsigned char *p)
{
    printf("%d ", len);
    while (len--)
        printf(" %02x", *p++);
    printf("\n");
}

static void dumprecord(int type, const void *m, int len)
{
    switch (type) {
    case KTR_SYSCALL: ktrsyscall(m, len); break;
    case KTR_SYSRET: ktrsysret(m); break;
    case KTR_NAMEI: ktrnamei(m, len); break;
    case KTR_GENIO: ktrgenio(m, len); break;
    case KTR_PSIG: ktrpsig(m); break;
    case KTR_CSW: ktrcsw(m); break;
    case KTR_USER: ktruser(len, m); break;
    default: putchar('\n');
    }
}

static void options(int argc, char **argv, int *trpoints, long *do_pid)
{
    char *cp;
    int ch;

    while ((ch = getopt(argc, argv, ":acf:djlm:np:RTt:")) != -1) {
        switch (ch) {
        case 'f': tracefile = optarg; break;
        case 'j': fixedformat = 1; break;
        case 'c': cpustamp = 1; break;
        case 'a': cpustamp = 1; timestamp = 2; break;
        case 'd': decimal = 1; break;
        case 'l': tail = 1; break;
        case 'm': maxdata = atoi(optarg); break;
        case 'n': fancy = 0; break;
        case 'p':
            *do_pid = strtoul(optarg, &cp, 0);
            if (*cp != 0)
                errx(1, "invalid number %s", optarg);
            break;
        case 'R': timestamp = 2; break;
        case 'T': timestamp = 1; break;
        case 't':
            *trpoints = getpoints(optarg);
            if (*trpoints < 0)
                errx(1, "unknown trace point in %s", optarg);
            break;
        default: bad_option(ch);
        }
    }
    if (argc > optind)
        usage();
}

int main(int argc, char **argv)
{
    struct ktr_header kth;
    int trpoints = ALL_POINTS, size = 1025;
    long do_pid = -1;
    char *m;

    options(argc, argv, &trpoints, &do_pid);
    if ((m = malloc(size + 1)) == NULL)
        errx(1, "%s", strerror(ENOMEM));
    if (!freopen(tracefile, "r", stdin))
        err(1, "%s", tracefile);
    while (fread_tail(&kth, sizeof kth)) {
        int wanted = (trpoints & (1 << kth.ktr_type)) &&
                     (do_pid == -1 || kth.ktr_pid == do_pid);
        int ktrlen = kth.ktr_len;

        if (ktrlen < 0)
            errx(1, "bogus length 0x%x", ktrlen);
        if (ktrlen > size) {
            if ((m = realloc(m, ktrlen + 1)) == NULL)
                errx(1, "%s", strerror(ENOMEM));
            size = ktrlen;
        }
        if (ktrlen && fread_tail(m, ktrlen) == 0)
            errx(1, "data too short");
        if (!wanted)
            continue;
        dumpheader(&kth);
        dumprecord(kth.ktr_type, m, ktrlen);
        if (tail)
            fflush(stdout);
    }
    return 0;
}
