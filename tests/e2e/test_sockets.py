"""AF_UNIX sockets end to end (vkernel/kernel/uipc_*.py).

guest/src/t_unix.c runs natively and inside vkernel and must print the
same lines (socketpair, filesystem and abstract names, listen/accept,
datagrams, SCM_RIGHTS and SCM_CREDENTIALS, options, poll/epoll, a 1 MiB
transfer); `t_unix inet` shows that AF_INET and AF_INET6 are refused with
EAFNOSUPPORT.  Then the host's python3, copied into a root with `mkroot
--host python3`, runs a script using socket.socketpair, a threaded server
on a path, an abstract datagram name, send_fds/recv_fds, selectors and
multiprocessing (Pipe, Manager), compared with the same python run natively.
"""
import os
import subprocess

import pytest

from conftest import REPO, run_vk, vkernel_cmd

PY_WORK = r'''
import multiprocessing, os, selectors, socket, stat, tempfile, threading


def pair_echo():
    a, b = socket.socketpair()

    def writer():
        a.sendall(b"x" * 300000)
        a.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=writer)
    t.start()
    got = bytearray()
    while True:
        chunk = b.recv(65536)
        if not chunk:
            break
        got += chunk
    t.join()
    print("socketpair bytes", len(got), a.family.name, a.type.name)


def threaded_server(d):
    path = os.path.join(d, "srv.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen()

    def serve():
        for _ in range(3):
            conn, _ = srv.accept()
            with conn:
                f = conn.makefile("rwb")
                f.write(f.readline().upper())
                f.flush()
    t = threading.Thread(target=serve)
    t.start()
    for word in ("alpha", "beta", "gamma"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.connect(path)
            c.sendall(word.encode() + b"\n")
            print("server says", c.makefile("rb").readline().decode().strip())
    t.join()
    print("node is a socket", stat.S_ISSOCK(os.stat(path).st_mode))
    srv.close()
    os.unlink(path)
    print("unlinked", not os.path.exists(path))


def abstract_dgram():
    name = "\0pysock-%d" % os.getpid()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(name)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    for i in range(3):
        c.sendto(b"dgram %d" % i, name)
    print([s.recv(100).decode() for _ in range(3)])
    try:
        c.sendto(b"x", "\0nobody-%d" % os.getpid())
    except OSError as e:
        print("sendto nobody:", type(e).__name__)


def fd_passing(d):
    a, b = socket.socketpair()
    path = os.path.join(d, "f.txt")
    with open(path, "w") as f:
        f.write("passed file\n")
    fd = os.open(path, os.O_RDONLY)
    socket.send_fds(a, [b"fds"], [fd])
    msg, fds, flags, addr = socket.recv_fds(b, 100, 4)
    print("recv_fds", msg, len(fds), os.read(fds[0], 100).decode().strip())


def selector_loop():
    sel = selectors.DefaultSelector()
    pairs = [socket.socketpair() for _ in range(3)]
    for i, (x, y) in enumerate(pairs):
        y.setblocking(False)
        sel.register(y, selectors.EVENT_READ, i)
        x.send(b"ping %d" % i)
    seen = []
    while len(seen) < 3:
        for key, _ in sel.select(timeout=5):
            seen.append(key.fileobj.recv(100).decode())
            sel.unregister(key.fileobj)
    print(sorted(seen), type(sel).__name__)


def child(conn):
    conn.send({"sum": sum(conn.recv())})


def mp_pipe():
    parent, kid = multiprocessing.Pipe()
    p = multiprocessing.Process(target=child, args=(kid,))
    p.start()
    parent.send(list(range(100)))
    print("multiprocessing Pipe", parent.recv())
    p.join()
    print("exit", p.exitcode)


def mp_manager():
    with multiprocessing.Manager() as m:
        d = m.dict()
        d["k"] = 42
        print("Manager", dict(d), list(m.list(range(5))))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        pair_echo()
        threaded_server(d)
        abstract_dgram()
        fd_passing(d)
    selector_loop()
    mp_pipe()
    mp_manager()
    print("done")
'''


def host_python():
    """The system python3 (what mkroot --host finds on the system PATH)."""
    return subprocess.run(["sh", "-c", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                           "/usr/bin:/sbin:/bin command -v python3"],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def pyroot(tmp_path_factory):
    dest = str(tmp_path_factory.mktemp("pyroot"))
    subprocess.run(vkernel_cmd("mkroot", "--host", "python3", dest), check=True, cwd=REPO,
                   env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, timeout=600)
    with open(os.path.join(dest, "root", "sockwork.py"), "w") as f:
        f.write(PY_WORK)
    return dest


def test_t_unix_same_as_native(root, guest_bins, tmp_path):
    ref = subprocess.run([guest_bins["t_unix"], str(tmp_path)], capture_output=True, timeout=120)
    assert ref.returncode == 0, ref.stderr.decode()
    got = run_vk(root, "/usr/local/bin/t_unix", "/tmp", timeout=300)
    assert got.stdout.decode() == ref.stdout.decode()
    assert got.returncode == 0, got.stderr.decode()[-2000:]
    assert b"Traceback" not in got.stderr


def test_inet_families_are_refused(root):
    r = run_vk(root, "/usr/local/bin/t_unix", "inet")
    assert r.returncode == 0
    assert r.stdout.decode().splitlines() == [
        "socket(AF_INET, SOCK_STREAM, 0): -1 EAFNOSUPPORT",
        "socket(AF_INET6, SOCK_DGRAM, 0): -1 EAFNOSUPPORT",
        "socketpair(AF_INET, SOCK_STREAM, 0, sv): -1 EAFNOSUPPORT",
    ]


def test_socket_node_for_ls_stat_and_rm(pyroot):
    """bind makes a node busybox sees as a socket; rm removes it; the
    descriptor's /proc link is socket:[N]."""
    bind = ("import os, socket; s = socket.socket(socket.AF_UNIX); s.bind('/tmp/n.sock'); "
            "print(os.readlink('/proc/self/fd/%d' % s.fileno())[:8])")
    script = (f"{host_python()} -c \"{bind}\" && ls -l /tmp/n.sock | cut -c1 && "
              "stat -c %F /tmp/n.sock && rm /tmp/n.sock && ls /tmp/n.sock 2>/dev/null; echo $?")
    r = run_vk(pyroot, "/bin/sh", "-c", script)
    assert r.stdout.decode().splitlines() == ["socket:[", "s", "socket", "1"], r.stderr.decode()


def test_python3_sockets_same_as_native(pyroot, tmp_path):
    python = host_python()
    script = tmp_path / "sockwork.py"
    script.write_text(PY_WORK)
    want = subprocess.run([python, str(script)], capture_output=True, timeout=120, cwd=tmp_path)
    assert want.returncode == 0, want.stderr.decode()
    got = run_vk(pyroot, "/bin/sh", "-c", f"{python} /root/sockwork.py | cat", timeout=300)
    assert got.returncode == 0, got.stderr.decode()[-3000:]
    assert got.stdout.decode() == want.stdout.decode()
