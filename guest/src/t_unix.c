/*
 * t_unix.c - AF_UNIX sockets.
 *
 * Usage: t_unix DIR     the checks below, working in a fresh DIR/t_unix.XXXXXX
 *        t_unix inet    what socket(2) says to AF_INET and AF_INET6 (vkernel only)
 *
 * Covers socket/socketpair (stream, datagram, seqpacket; bad arguments),
 * read/write/send/recv with MSG_PEEK, MSG_DONTWAIT, MSG_TRUNC, MSG_WAITALL
 * and MSG_NOSIGNAL; shutdown, EOF, EPIPE and SIGPIPE, ECONNRESET,
 * ECONNREFUSED; poll, select and epoll masks; non-blocking sockets filling
 * up; filesystem names (a socket node: stat, EADDRINUSE, unlink), abstract
 * names and autobind; listen/accept/accept4/connect with a backlog;
 * getsockname/getpeername; datagram names and EPERM; SCM_RIGHTS (passing a
 * pipe, a file and a socket, truncated control buffers, MSG_CMSG_CLOEXEC,
 * peeking) and SCM_CREDENTIALS; SO_* options; sendmmsg/recvmmsg; a 1 MiB
 * transfer between processes; /proc/self/fd links.  Output never shows
 * pids, inode numbers or buffer capacities, so a native run and a run
 * inside vkernel print the same lines.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static char dir[4096];
static volatile sig_atomic_t sigpipes;

static const char *ename(int e)
{
    switch (e) {
#define N(x) case x: return #x;
    N(EAFNOSUPPORT) N(EPROTOTYPE) N(EISCONN) N(ENOTCONN) N(EADDRINUSE)
    N(ECONNRESET) N(EMSGSIZE) N(EPROTONOSUPPORT) N(ESOCKTNOSUPPORT)
    N(ENOPROTOOPT) N(EDESTADDRREQ) N(ECONNABORTED)
#undef N
    default: return errname(e);
    }
}

/* "name: value" for a call that returns a count or -1 and errno. */
static long show(const char *name, long r)
{
    if (r < 0)
        printf("%s: -1 %s\n", name, ename(errno));
    else
        printf("%s: %ld\n", name, r);
    return r;
}
#define SHOW(call) show(#call, (long)(call))

static void on_sigpipe(int sig) { (void)sig; sigpipes++; }

static void pollmask(const char *name, int fd)
{
    struct pollfd p = { fd, POLLIN | POLLOUT | POLLRDHUP | POLLPRI, 0 };
    CHECK(poll(&p, 1, 0) >= 0, "poll");
    printf("poll %s:%s%s%s%s%s%s\n", name, p.revents & POLLIN ? " IN" : "",
           p.revents & POLLOUT ? " OUT" : "", p.revents & POLLRDHUP ? " RDHUP" : "",
           p.revents & POLLHUP ? " HUP" : "", p.revents & POLLERR ? " ERR" : "",
           p.revents ? "" : " none");
}

static int geti(int fd, int opt)
{
    int v = -1;
    socklen_t l = sizeof v;
    CHECK(getsockopt(fd, SOL_SOCKET, opt, &v, &l) == 0, "getsockopt %d", opt);
    return v;
}

static void seti(int fd, int opt, int v)
{
    CHECK(setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v) == 0, "setsockopt %d", opt);
}

static socklen_t mkaddr(struct sockaddr_un *a, const char *name)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (name[0] == '@') {                   /* abstract: leading NUL, no terminator */
        memcpy(a->sun_path + 1, name + 1, strlen(name + 1));
        return offsetof(struct sockaddr_un, sun_path) + strlen(name);
    }
    snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", dir, name);
    return sizeof *a;
}

static int named(int type, const char *name, int listen_backlog)
{
    struct sockaddr_un a;
    socklen_t l = mkaddr(&a, name);
    int s = socket(AF_UNIX, type, 0);
    CHECK(s >= 0 && bind(s, (struct sockaddr *)&a, l) == 0, "bind %s", name);
    if (listen_backlog >= 0)
        CHECK(listen(s, listen_backlog) == 0, "listen %s", name);
    return s;
}

static int connect_to(int type, const char *name, int flags)
{
    struct sockaddr_un a;
    socklen_t l = mkaddr(&a, name);
    int s = socket(AF_UNIX, type | flags, 0);
    CHECK(s >= 0, "socket");
    if (connect(s, (struct sockaddr *)&a, l) < 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

static void pair(int type, int sv[2])
{
    CHECK(socketpair(AF_UNIX, type, 0, sv) == 0, "socketpair %d", type);
}

/* Read exactly what want holds (a stream may have more queued behind it). */
static void expect_read(int fd, const char *want)
{
    char buf[256];
    ssize_t n = read(fd, buf, strlen(want));
    CHECK(n >= 0, "read");
    buf[n] = 0;
    CHECK(strcmp(buf, want) == 0, "read \"%s\", want \"%s\"", buf, want);
}

static void reap(pid_t pid, const char *what)
{
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    printf("%s: child %s %d\n", what, WIFEXITED(st) ? "exit" : "signal",
           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* ---- creation ------------------------------------------------------------ */
static void t_create(void)
{
    int s;
    SHOW(socket(AF_UNIX, 99, 0));
    SHOW(socket(AF_UNIX, SOCK_RDM, 0));
    SHOW(socket(AF_UNIX, SOCK_STREAM, 7));
    SHOW(socket(AF_UNIX, SOCK_STREAM | 0x100000, 0));
    SHOW(socket(9999, SOCK_STREAM, 0));
    s = socket(AF_UNIX, SOCK_RAW, 0);
    printf("SOCK_RAW is SOCK_DGRAM: %d\n", geti(s, SO_TYPE) == SOCK_DGRAM);
    close(s);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    printf("flags: cloexec %d nonblock %d\n", fcntl(s, F_GETFD) & FD_CLOEXEC,
           !!(fcntl(s, F_GETFL) & O_NONBLOCK));
    struct stat st;
    CHECK(fstat(s, &st) == 0, "fstat");
    printf("fstat: S_ISSOCK %d\n", S_ISSOCK(st.st_mode));
    char link[64], path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", s);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("fd link starts with socket:[ %d\n", strncmp(link, "socket:[", 8) == 0);
    SHOW(read(s, link, 1));
    SHOW(write(s, "x", 1));
    SHOW(shutdown(s, SHUT_WR));
    SHOW(shutdown(s, 7));
    pollmask("fresh stream", s);
    close(s);
    SHOW(shutdown(0 + 1000, SHUT_RD));
    SHOW(getsockname(1, (struct sockaddr *)link, (socklen_t[]){ sizeof link }));
}

/* ---- socketpair(SOCK_STREAM) ---------------------------------------------- */
static void t_stream_pair(void)
{
    int sv[2];
    char buf[64];
    pair(SOCK_STREAM, sv);
    printf("SO_TYPE %d SO_DOMAIN %d SO_PROTOCOL %d SO_ACCEPTCONN %d SO_ERROR %d\n",
           geti(sv[0], SO_TYPE), geti(sv[0], SO_DOMAIN), geti(sv[0], SO_PROTOCOL),
           geti(sv[0], SO_ACCEPTCONN), geti(sv[0], SO_ERROR));
    struct ucred uc;
    socklen_t l = sizeof uc;
    CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &uc, &l) == 0, "SO_PEERCRED");
    printf("SO_PEERCRED: len %d pid ok %d uid ok %d gid ok %d\n", (int)l, uc.pid == getpid(),
           uc.uid == geteuid(), uc.gid == getegid());
    struct sockaddr_un a;
    l = sizeof a;
    SHOW(getsockname(sv[0], (struct sockaddr *)&a, &l));
    printf("getsockname: len %d family %d\n", (int)l, a.sun_family);
    l = sizeof a;
    SHOW(getpeername(sv[0], (struct sockaddr *)&a, &l));
    printf("getpeername: len %d\n", (int)l);
    pollmask("idle pair", sv[0]);
    SHOW(write(sv[0], "hello", 5));
    SHOW(send(sv[0], " world", 6, 0));
    int avail = -1;
    ioctl(sv[1], FIONREAD, &avail);
    printf("FIONREAD %d\n", avail);
    pollmask("data waiting", sv[1]);
    SHOW(recv(sv[1], buf, 5, MSG_PEEK));
    SHOW(recv(sv[1], buf, sizeof buf, 0));
    buf[11] = 0;
    printf("got \"%s\"\n", buf);
    SHOW(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    SHOW(sendto(sv[0], "x", 1, 0, (struct sockaddr *)&a, sizeof a));
    SHOW(shutdown(sv[0], SHUT_WR));
    pollmask("after SHUT_WR (self)", sv[0]);
    pollmask("after SHUT_WR (peer)", sv[1]);
    SHOW(read(sv[1], buf, sizeof buf));
    SHOW(write(sv[0], "x", 1));
    printf("sigpipes %d\n", (int)sigpipes);
    SHOW(send(sv[0], "x", 1, MSG_NOSIGNAL));
    printf("sigpipes %d\n", (int)sigpipes);
    SHOW(write(sv[1], "back", 4));
    expect_read(sv[0], "back");
    close(sv[1]);
    pollmask("peer closed", sv[0]);
    SHOW(read(sv[0], buf, sizeof buf));
    SHOW(send(sv[0], "x", 1, 0));
    printf("sigpipes %d\n", (int)sigpipes);
    close(sv[0]);

    pair(SOCK_STREAM, sv);                  /* close with data unread: ECONNRESET */
    SHOW(write(sv[0], "abc", 3));
    SHOW(write(sv[1], "unread", 6));
    close(sv[1]);
    pollmask("reset", sv[0]);
    SHOW(read(sv[0], buf, sizeof buf));
    SHOW(read(sv[0], buf, sizeof buf));
    close(sv[0]);
}

/* ---- socketpair(SOCK_DGRAM), socketpair(SOCK_SEQPACKET) ------------------- */
static void t_dgram_pair(int type, const char *tname)
{
    int sv[2];
    char buf[64];
    struct iovec iov = { buf, 4 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    printf("-- %s pair\n", tname);
    pair(type, sv);
    pollmask("idle", sv[0]);
    SHOW(send(sv[0], "first", 5, 0));
    SHOW(send(sv[0], "", 0, 0));
    SHOW(send(sv[0], "third!", 6, 0));
    int avail = -1;
    ioctl(sv[1], FIONREAD, &avail);
    printf("FIONREAD %d\n", avail);
    SHOW(recv(sv[1], buf, sizeof buf, MSG_PEEK));
    SHOW(recvmsg(sv[1], &m, 0));
    printf("msg_flags MSG_TRUNC %d\n", !!(m.msg_flags & MSG_TRUNC));
    SHOW(recv(sv[1], buf, sizeof buf, 0));
    SHOW(recv(sv[1], buf, 2, MSG_TRUNC));
    SHOW(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    SHOW(shutdown(sv[0], SHUT_WR));
    SHOW(send(sv[0], "late", 4, 0));
    pollmask("after SHUT_WR (peer)", sv[1]);
    SHOW(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    SHOW(send(sv[1], "to0", 3, 0));
    close(sv[0]);
    pollmask("peer closed", sv[1]);
    SHOW(write(sv[1], "x", 1));
    SHOW(write(sv[1], "x", 1));
    printf("sigpipes %d\n", (int)sigpipes);
    SHOW(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    close(sv[1]);
}

/* ---- non-blocking, buffer sizes, options ---------------------------------- */
static void t_options(void)
{
    int sv[2];
    char chunk[4096];
    memset(chunk, 'z', sizeof chunk);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0, "socketpair");
    long total = 0, n;
    while ((n = write(sv[0], chunk, sizeof chunk)) > 0)
        total += n;
    printf("filled: %s after %s\n", ename(errno), total > 8192 ? "many bytes" : "few bytes");
    pollmask("full (writer)", sv[0]);
    char big[65536];
    while (read(sv[1], big, sizeof big) > 0)
        ;
    pollmask("drained (writer)", sv[0]);
    seti(sv[0], SO_SNDBUF, 65536);
    seti(sv[0], SO_RCVBUF, 32768);
    printf("SO_SNDBUF %d SO_RCVBUF %d\n", geti(sv[0], SO_SNDBUF), geti(sv[0], SO_RCVBUF));
    seti(sv[0], SO_REUSEADDR, 5);
    seti(sv[0], SO_KEEPALIVE, 1);
    printf("SO_REUSEADDR %d SO_KEEPALIVE %d SO_PASSCRED %d\n", geti(sv[0], SO_REUSEADDR),
           geti(sv[0], SO_KEEPALIVE), geti(sv[0], SO_PASSCRED));
    struct linger lg = { 1, 5 };
    socklen_t l = sizeof lg;
    SHOW(setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    memset(&lg, 0, sizeof lg);
    SHOW(getsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, &l));
    printf("SO_LINGER %d %d len %d\n", lg.l_onoff, lg.l_linger, (int)l);
    int v = 0;
    l = 2;
    SHOW(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l));
    printf("short optlen: len %d value %d\n", (int)l, v);
    SHOW(getsockopt(sv[0], SOL_SOCKET, 9999, &v, &l));
    SHOW(setsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, sizeof v));
    SHOW(setsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &v, 2));
    SHOW(getsockopt(sv[0], 6, 1, &v, &l));
    close(sv[0]);
    close(sv[1]);

    pair(SOCK_STREAM, sv);                  /* SO_RCVTIMEO on a blocking socket */
    struct timeval tv = { 0, 200000 }, back;
    SHOW(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    l = sizeof back;
    getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &back, &l);
    printf("SO_RCVTIMEO %ld.%06ld\n", (long)back.tv_sec, (long)back.tv_usec);
    SHOW(read(sv[0], chunk, 1));
    close(sv[0]);
    close(sv[1]);
}

/* ---- filesystem names, listen/accept/connect -------------------------------- */
static void t_fsnames(void)
{
    struct sockaddr_un a, b;
    socklen_t l;
    struct stat st;
    char buf[64];
    int ls = named(SOCK_STREAM, "srv", -1);
    mkaddr(&a, "srv");
    CHECK(stat(a.sun_path, &st) == 0, "stat srv");
    printf("socket node: S_ISSOCK %d mode %o\n", S_ISSOCK(st.st_mode), st.st_mode & 0777);
    int other = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW(bind(other, (struct sockaddr *)&a, sizeof a));
    mkaddr(&b, "srv2");
    SHOW(bind(ls, (struct sockaddr *)&b, sizeof b));
    printf("srv2 exists %d\n", access(b.sun_path, F_OK) == 0);
    SHOW(bind(other, (struct sockaddr *)&a, 1));
    SHOW(listen(other, 5));
    l = sizeof b;
    getsockname(ls, (struct sockaddr *)&b, &l);
    printf("getsockname: len ok %d path ok %d\n", (int)l == (int)(offsetof(struct sockaddr_un, sun_path) + strlen(a.sun_path) + 1),
           strcmp(b.sun_path, a.sun_path) == 0);
    SHOW(connect_to(SOCK_STREAM, "srv", 0));          /* bound, not listening */
    SHOW(connect_to(SOCK_DGRAM, "srv", 0));
    SHOW(listen(ls, 1));
    pollmask("listener", ls);
    SHOW(accept(other, NULL, NULL));
    SHOW(connect_to(SOCK_SEQPACKET, "srv", 0));
    SHOW(connect_to(SOCK_STREAM, "missing", 0));
    char plain[4200];
    snprintf(plain, sizeof plain, "%s/plain", dir);
    int fd = open(plain, O_CREAT | O_WRONLY, 0644);
    close(fd);
    SHOW(connect_to(SOCK_STREAM, "plain", 0));

    pid_t pid = fork();
    if (pid == 0) {                          /* client: after the parent sleeps in accept */
        usleep(50000);
        int c = connect_to(SOCK_STREAM, "srv", 0);
        if (c < 0)
            _exit(10);
        struct ucred uc;
        socklen_t ul = sizeof uc;
        struct sockaddr_un p;
        socklen_t pl = sizeof p;
        if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &ul) || uc.pid != getppid())
            _exit(11);
        if (getpeername(c, (struct sockaddr *)&p, &pl) || strcmp(p.sun_path, a.sun_path))
            _exit(12);
        if (write(c, "ping", 4) != 4)
            _exit(13);
        char r[8] = { 0 };
        if (read(c, r, sizeof r - 1) != 4 || strcmp(r, "pong"))
            _exit(14);
        if (connect(c, (struct sockaddr *)&a, sizeof a) == 0 || errno != EISCONN)
            _exit(15);
        _exit(0);
    }
    l = sizeof b;
    memset(&b, 0x55, sizeof b);
    int s = accept(ls, (struct sockaddr *)&b, &l);
    CHECK(s >= 0, "accept");
    printf("accept: peer addr len %d family %d\n", (int)l, b.sun_family);
    struct ucred uc;
    socklen_t ul = sizeof uc;
    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &ul);
    printf("accepted SO_PEERCRED is the child %d\n", uc.pid == pid);
    l = sizeof b;
    getsockname(s, (struct sockaddr *)&b, &l);
    printf("accepted getsockname is the listener's %d\n", strcmp(b.sun_path, a.sun_path) == 0);
    expect_read(s, "ping");
    SHOW(write(s, "pong", 4));
    reap(pid, "fs client");
    close(s);

    /* backlog 0 holds one connection; more would wait */
    SHOW(listen(ls, 0));
    int c1 = connect_to(SOCK_STREAM, "srv", SOCK_NONBLOCK);
    printf("first connect %s\n", c1 >= 0 ? "ok" : ename(errno));
    SHOW(connect_to(SOCK_STREAM, "srv", SOCK_NONBLOCK));
    pollmask("listener with a connection", ls);
    SHOW(write(c1, "early", 5));
    s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    printf("accept4: cloexec %d nonblock %d\n", fcntl(s, F_GETFD) & FD_CLOEXEC,
           !!(fcntl(s, F_GETFL) & O_NONBLOCK));
    expect_read(s, "early");
    SHOW(syscall(SYS_accept4, ls, NULL, NULL, 0x1234));   /* musl's accept4 would retry */
    fcntl(ls, F_SETFL, O_NONBLOCK);
    SHOW(accept(ls, NULL, NULL));
    int c2 = connect_to(SOCK_STREAM, "srv", 0);
    close(ls);                               /* pending c2 is reset */
    SHOW(read(c2, buf, sizeof buf));
    SHOW(read(c2, buf, sizeof buf));
    close(c1);
    close(c2);
    close(s);
    SHOW(connect_to(SOCK_STREAM, "srv", 0)); /* the node outlives its socket */
    SHOW(unlink(a.sun_path));
    SHOW(connect_to(SOCK_STREAM, "srv", 0));
    close(other);
}

/* ---- abstract names and autobind -------------------------------------------- */
static void t_abstract(void)
{
    char name[64];
    struct sockaddr_un a;
    socklen_t l;
    snprintf(name, sizeof name, "@t_unix.%d", (int)getpid());
    int ls = named(SOCK_SEQPACKET, name, 4);
    l = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &l);
    printf("abstract getsockname: len ok %d nul first %d\n",
           (int)l == (int)(offsetof(struct sockaddr_un, sun_path) + strlen(name)),
           a.sun_path[0] == 0);
    int dup_name = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    l = mkaddr(&a, name);
    SHOW(bind(dup_name, (struct sockaddr *)&a, l));
    close(dup_name);
    int c = connect_to(SOCK_SEQPACKET, name, 0);
    CHECK(c >= 0, "connect abstract");
    int s = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
    printf("accept4 nonblock %d\n", !!(fcntl(s, F_GETFL) & O_NONBLOCK));
    char buf[16];
    struct iovec iov = { buf, 3 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    SHOW(send(c, "record", 6, 0));
    SHOW(recvmsg(s, &m, 0));
    printf("seqpacket MSG_TRUNC %d\n", !!(m.msg_flags & MSG_TRUNC));
    SHOW(recv(s, buf, sizeof buf, 0));
    close(c);
    SHOW(recv(s, buf, sizeof buf, 0));
    SHOW(send(s, "x", 1, 0));
    printf("sigpipes %d\n", (int)sigpipes);
    close(s);
    close(ls);
    SHOW(connect_to(SOCK_SEQPACKET, name, 0));

    int ab = socket(AF_UNIX, SOCK_DGRAM, 0);
    a.sun_family = AF_UNIX;
    SHOW(bind(ab, (struct sockaddr *)&a, sizeof(sa_family_t)));
    l = sizeof a;
    getsockname(ab, (struct sockaddr *)&a, &l);
    printf("autobind: len %d nul first %d\n", (int)l, a.sun_path[0] == 0);
    close(ab);
}

/* ---- datagram names ---------------------------------------------------------- */
static void t_dgram_names(void)
{
    struct sockaddr_un a, from;
    socklen_t l;
    char buf[64];
    int r = named(SOCK_DGRAM, "dg", -1);
    socklen_t al = mkaddr(&a, "dg");
    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    SHOW(sendto(u, "anon", 4, 0, (struct sockaddr *)&a, al));
    l = sizeof from;
    SHOW(recvfrom(r, buf, sizeof buf, 0, (struct sockaddr *)&from, &l));
    printf("from unbound: addrlen %d\n", (int)l);
    int nb = named(SOCK_DGRAM, "dg-sender", -1);
    SHOW(sendto(nb, "named", 5, 0, (struct sockaddr *)&a, al));
    l = sizeof from;
    SHOW(recvfrom(r, buf, sizeof buf, 0, (struct sockaddr *)&from, &l));
    printf("from named: path ends with dg-sender %d\n",
           strlen(from.sun_path) > 9 && !strcmp(from.sun_path + strlen(from.sun_path) - 9, "dg-sender"));
    SHOW(send(u, "x", 1, 0));
    struct sockaddr_un miss;
    socklen_t ml = mkaddr(&miss, "nowhere");
    SHOW(sendto(u, "x", 1, 0, (struct sockaddr *)&miss, ml));
    SHOW(connect(u, (struct sockaddr *)&a, al));
    SHOW(send(u, "via connect", 11, 0));
    SHOW(recv(r, buf, sizeof buf, 0));
    struct sockaddr_un ns;
    socklen_t nl = mkaddr(&ns, "dg-sender");
    SHOW(connect(r, (struct sockaddr *)&ns, nl));    /* r now only hears dg-sender */
    SHOW(send(u, "refused", 7, 0));
    SHOW(sendto(nb, "ok", 2, 0, (struct sockaddr *)&a, al));
    SHOW(recv(r, buf, sizeof buf, 0));
    struct sockaddr unspec = { AF_UNSPEC };
    SHOW(connect(r, &unspec, sizeof unspec));
    SHOW(send(r, "x", 1, 0));
    long count = 0;                          /* a receiver's queue is bounded */
    int flood = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    while (sendto(flood, "f", 1, 0, (struct sockaddr *)&a, al) == 1)
        count++;
    printf("flood: %s after %s\n", ename(errno), count > 1 ? "several" : "too few");
    close(flood);
    close(u);
    close(nb);
    close(r);
}

/* ---- SCM_RIGHTS and SCM_CREDENTIALS ----------------------------------------- */
static ssize_t send_fds(int s, const char *data, const int *fds, int nfds)
{
    union { char buf[CMSG_SPACE(8 * sizeof(int))]; struct cmsghdr align; } u;
    struct iovec iov = { (void *)data, strlen(data) };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = CMSG_SPACE(nfds * sizeof(int)) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    return sendmsg(s, &m, 0);
}

/* Receive data and descriptors into fds; prints what came. */
static int recv_fds(int s, int *fds, size_t ctl, int flags, const char *what)
{
    union { char buf[256]; struct cmsghdr align; } u;
    char data[64];
    struct iovec iov = { data, sizeof data - 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl ? u.buf : NULL,
                        .msg_controllen = ctl };
    ssize_t n = recvmsg(s, &m, flags);
    CHECK(n >= 0, "recvmsg %s", what);
    data[n] = 0;
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds + got, CMSG_DATA(c), k * sizeof(int));
            got += k;
        }
    printf("%s: \"%s\" fds %d ctrunc %d controllen %d\n", what, data, got,
           !!(m.msg_flags & MSG_CTRUNC), (int)m.msg_controllen);
    return got;
}

static void t_rights(void)
{
    int sv[2], p[2], fds[8];
    char path[4200];
    pair(SOCK_STREAM, sv);
    CHECK(pipe(p) == 0, "pipe");
    snprintf(path, sizeof path, "%s/passed", dir);
    int f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(write(f, "file data", 9) == 9, "write passed");
    int two[2] = { p[0], f };
    SHOW(send_fds(sv[0], "two", two, 2));
    CHECK(recv_fds(sv[1], fds, 256, MSG_CMSG_CLOEXEC, "rights") == 2, "two fds");
    printf("received fds are new %d cloexec %d\n", fds[0] != p[0] && fds[1] != f,
           fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
    SHOW(write(p[1], "via pipe", 8));
    expect_read(fds[0], "via pipe");
    lseek(fds[1], 0, SEEK_SET);
    expect_read(fds[1], "file data");
    printf("shared offset %ld\n", (long)lseek(f, 0, SEEK_CUR));
    close(fds[0]);
    close(fds[1]);

    SHOW(send_fds(sv[0], "trunc", two, 2));
    recv_fds(sv[1], fds, CMSG_LEN(sizeof(int)), 0, "room for one");
    close(fds[0]);
    SHOW(send_fds(sv[0], "none", two, 2));
    recv_fds(sv[1], fds, 0, 0, "no control");
    SHOW(send_fds(sv[0], "peek", two, 1));
    recv_fds(sv[1], fds, 256, MSG_PEEK, "peeked");
    close(fds[0]);
    recv_fds(sv[1], fds, 256, 0, "taken");
    close(fds[0]);
    int bad[1] = { 999 };
    SHOW(send_fds(sv[0], "bad", bad, 1));
    SHOW(write(sv[0], "plain", 5));
    recv_fds(sv[1], fds, 256, 0, "no rights");

    int inner[2];                            /* pass a socket to a child */
    pair(SOCK_STREAM, inner);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        close(inner[0]);
        close(inner[1]);
        int got[2];
        union { char buf[64]; struct cmsghdr align; } u;
        char d[8];
        struct iovec iov = { d, sizeof d };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                            .msg_controllen = sizeof u.buf };
        if (recvmsg(sv[1], &m, 0) != 4 || !CMSG_FIRSTHDR(&m))
            _exit(20);
        memcpy(got, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
        if (write(got[0], "from child", 10) != 10)
            _exit(21);
        _exit(0);
    }
    SHOW(send_fds(sv[0], "sock", &inner[1], 1));
    close(inner[1]);
    expect_read(inner[0], "from child");
    reap(pid, "socket passed to child");
    close(inner[0]);

    pair(SOCK_DGRAM, inner);                 /* a socket sent over itself, then closed */
    SHOW(send_fds(inner[0], "self", &inner[1], 1));
    close(inner[0]);
    close(inner[1]);
    close(p[0]);
    close(p[1]);
    close(f);
    close(sv[0]);
    close(sv[1]);
}

static void t_creds(void)
{
    int sv[2];
    pair(SOCK_DGRAM, sv);
    seti(sv[1], SO_PASSCRED, 1);
    printf("SO_PASSCRED %d\n", geti(sv[1], SO_PASSCRED));
    pid_t pid = fork();
    if (pid == 0) {
        _exit(send(sv[0], "cred", 4, 0) == 4 ? 0 : 30);
    }
    reap(pid, "creds sender");
    union { char buf[256]; struct cmsghdr align; } u;
    char d[8];
    struct iovec iov = { d, sizeof d };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf };
    SHOW(recvmsg(sv[1], &m, 0));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    struct ucred uc = { 0 };
    if (c && c->cmsg_type == SCM_CREDENTIALS)
        memcpy(&uc, CMSG_DATA(c), sizeof uc);
    printf("SCM_CREDENTIALS: type ok %d pid is the child %d uid ok %d gid ok %d\n",
           c && c->cmsg_type == SCM_CREDENTIALS, uc.pid == pid, uc.uid == getuid(),
           uc.gid == getgid());
    m.msg_control = NULL;
    m.msg_controllen = 0;
    SHOW(send(sv[0], "again", 5, 0));
    SHOW(recvmsg(sv[1], &m, 0));
    printf("no control buffer: ctrunc %d\n", !!(m.msg_flags & MSG_CTRUNC));

    struct ucred mine = { getpid(), getuid(), getgid() };   /* explicit credentials */
    union { char buf[CMSG_SPACE(sizeof(struct ucred))]; struct cmsghdr align; } o;
    iov.iov_base = "own";
    iov.iov_len = 3;
    struct msghdr sm = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = o.buf,
                         .msg_controllen = sizeof o.buf };
    c = CMSG_FIRSTHDR(&sm);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof mine);
    memcpy(CMSG_DATA(c), &mine, sizeof mine);
    SHOW(sendmsg(sv[0], &sm, 0));
    iov.iov_base = d;
    iov.iov_len = sizeof d;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    SHOW(recvmsg(sv[1], &m, 0));
    c = CMSG_FIRSTHDR(&m);
    memcpy(&uc, CMSG_DATA(c), sizeof uc);
    printf("explicit credentials: pid is mine %d\n", uc.pid == getpid());
    c = CMSG_FIRSTHDR(&sm);
    c->cmsg_type = 77;
    iov.iov_base = "bad";
    SHOW(sendmsg(sv[0], &sm, 0));
    close(sv[0]);
    close(sv[1]);
}

/* ---- multiplexing, blocking, bulk --------------------------------------------- */
static void t_wait(void)
{
    int sv[2];
    char buf[512];
    pair(SOCK_STREAM, sv);
    int ep = epoll_create1(0);
    struct epoll_event ev = { EPOLLIN | EPOLLRDHUP, { .fd = sv[1] } }, out;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev) == 0, "epoll_ctl");
    SHOW(epoll_wait(ep, &out, 1, 0));
    pid_t pid = fork();
    if (pid == 0) {                          /* wakes a blocked epoll_wait, recv, WAITALL */
        char ack[4];
        usleep(30000);
        write(sv[0], "wake", 4);
        if (read(sv[0], ack, 3) != 3)
            _exit(40);
        usleep(30000);
        write(sv[0], "blocked", 7);
        for (int i = 0; i < 3; i++) {
            usleep(20000);
            memset(buf, 'a' + i, 100);
            write(sv[0], buf, 100);
        }
        _exit(0);
    }
    SHOW(epoll_wait(ep, &out, 1, 5000));
    printf("epoll event IN %d\n", !!(out.events & EPOLLIN));
    expect_read(sv[1], "wake");
    SHOW(write(sv[1], "ack", 3));
    expect_read(sv[1], "blocked");
    SHOW(recv(sv[1], buf, 300, MSG_WAITALL));
    printf("waitall: %c%c%c\n", buf[0], buf[150], buf[299]);
    reap(pid, "waker");
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(sv[1], &rd);
    struct timeval tv = { 0, 0 };
    SHOW(select(sv[1] + 1, &rd, NULL, NULL, &tv));
    close(sv[0]);
    SHOW(epoll_wait(ep, &out, 1, 1000));
    printf("epoll after close: IN %d RDHUP %d HUP %d\n", !!(out.events & EPOLLIN),
           !!(out.events & EPOLLRDHUP), !!(out.events & EPOLLHUP));
    close(ep);
    close(sv[1]);

    pair(SOCK_STREAM, sv);                   /* 1 MiB through the flow control */
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        unsigned long sum = 0, total = 0;
        ssize_t n;
        while ((n = read(sv[1], buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                sum += (unsigned char)buf[i];
            total += n;
        }
        dprintf(sv[1], "%lu %lu", total, sum);
        _exit(0);
    }
    close(sv[1]);
    static char mib[1 << 20];
    unsigned long want = 0;
    for (size_t i = 0; i < sizeof mib; i++) {
        mib[i] = (char)(i * 7);
        want += (unsigned char)mib[i];
    }
    SHOW(write(sv[0], mib, sizeof mib));
    SHOW(shutdown(sv[0], SHUT_WR));
    char res[64] = { 0 };
    CHECK(read(sv[0], res, sizeof res - 1) > 0, "bulk result");
    unsigned long total, sum;
    sscanf(res, "%lu %lu", &total, &sum);
    printf("bulk: %lu bytes, sum ok %d\n", total, sum == want);
    reap(pid, "bulk reader");
    close(sv[0]);

    pair(SOCK_DGRAM, sv);                    /* sendmmsg / recvmmsg */
    struct mmsghdr mm[3];
    struct iovec iv[3];
    char *words[3] = { "one", "three", "seven" };
    char rb[3][16];
    for (int i = 0; i < 3; i++) {
        iv[i].iov_base = words[i];
        iv[i].iov_len = strlen(words[i]);
        memset(&mm[i], 0, sizeof mm[i]);
        mm[i].msg_hdr.msg_iov = &iv[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    SHOW(sendmmsg(sv[0], mm, 3, 0));
    for (int i = 0; i < 3; i++) {
        iv[i].iov_base = rb[i];
        iv[i].iov_len = sizeof rb[i];
    }
    SHOW(recvmmsg(sv[1], mm, 3, MSG_WAITFORONE, NULL));
    printf("recvmmsg lengths %u %u %u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
    close(sv[0]);
    close(sv[1]);
}

static void inet(void)
{
    SHOW(socket(AF_INET, SOCK_STREAM, 0));
    SHOW(socket(AF_INET6, SOCK_DGRAM, 0));
    int sv[2];
    SHOW(socketpair(AF_INET, SOCK_STREAM, 0, sv));
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 2 && strcmp(argv[1], "inet") == 0) {
        inet();
        return 0;
    }
    CHECK(argc == 2, "usage: t_unix DIR | t_unix inet");
    snprintf(dir, sizeof dir, "%s/t_unix.XXXXXX", argv[1]);
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    umask(022);
    signal(SIGPIPE, on_sigpipe);
    t_create();
    t_stream_pair();
    t_dgram_pair(SOCK_DGRAM, "SOCK_DGRAM");
    t_dgram_pair(SOCK_SEQPACKET, "SOCK_SEQPACKET");
    t_options();
    t_fsnames();
    t_abstract();
    t_dgram_names();
    t_rights();
    t_creds();
    t_wait();
    const char *left[] = { "plain", "passed", "dg", "dg-sender" };
    char path[4200];
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, left[i]);
        CHECK(unlink(path) == 0, "unlink %s", left[i]);
    }
    CHECK(rmdir(dir) == 0, "rmdir %s", dir);
    printf("done\n");
    return 0;
}
