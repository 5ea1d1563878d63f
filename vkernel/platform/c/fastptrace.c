/*
 * fastptrace: the virtual CPU's hot path in one call (part of platform/ptrace.py).
 *
 * step(resume_tid, setregs, regsmap) ->
 *     (tid, status)   a stop or exit collected by waitpid(-1, __WALL | __WNOTHREAD)
 *     (-1, errno)     waitpid failed (EINTR: a host signal arrived)
 *
 * If resume_tid > 0, first PTRACE_SETREGS it from `setregs` (a writable
 * buffer of struct user_regs_struct, or None) and PTRACE_SYSEMU it.  Then
 * block in waitpid with the GIL released.  For a syscall stop
 * (SIGTRAP|0x80) of a thread found in `regsmap` (dict tid -> buffer), the
 * registers are fetched with PTRACE_GETREGS straight into its buffer.
 * Doing the four host calls of a syscall round trip in one Python call is
 * what keeps the Python tracer near a C tracer's cost.
 *
 * __WNOTHREAD: each virtual CPU is a host thread that waits only for its own
 * tracees (and its doorbell); without it, one CPU would collect the stops
 * of another CPU's guests, which only that CPU may then ptrace.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

static int regs_buffer(PyObject *obj, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE) < 0)
        return -1;
    if ((size_t)view->len < sizeof(struct user_regs_struct)) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "register buffer too small");
        return -1;
    }
    return 0;
}

static int resume(long tid, void *regs)
{
    if (regs != NULL && ptrace(PTRACE_SETREGS, tid, 0, regs) < 0)
        return errno;
    if (ptrace(PTRACE_SYSEMU, tid, 0, 0) < 0)
        return errno;
    return 0;
}

/*
 * Handing the kernel between virtual CPUs.  Kernel work is Python, so a CPU
 * whose guest trapped needs the GIL, which another CPU may hold.  Sleeping
 * on the GIL and being woken from another host CPU costs tens of
 * microseconds here, and the holder often takes it back first.  So a CPU
 * that comes back from waitpid while another CPU is in the kernel spins a
 * little (at most SPIN_NS) until that CPU enters its own wait: then the GIL
 * is free and taken at once.  `in_kernel` counts the CPU threads between
 * two step() calls; one CPU alone never spins.
 */
#define SPIN_NS 60000L
static int in_kernel;
static __thread int counted;

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void wait_for_kernel(void)
{
    if (__atomic_load_n(&in_kernel, __ATOMIC_ACQUIRE) == 0)
        return;
    long end = now_ns() + SPIN_NS;
    while (__atomic_load_n(&in_kernel, __ATOMIC_ACQUIRE) > 0 && now_ns() < end)
        __builtin_ia32_pause();
}

static void fetch_regs(int tid, PyObject *regsmap)
{
    PyObject *key = PyLong_FromLong(tid);
    PyObject *buf = key ? PyDict_GetItemWithError(regsmap, key) : NULL;
    Py_XDECREF(key);
    if (buf == NULL) {
        PyErr_Clear();
        return;
    }
    Py_buffer view;
    if (regs_buffer(buf, &view) < 0) {
        PyErr_Clear();
        return;
    }
    ptrace(PTRACE_GETREGS, tid, 0, view.buf);
    PyBuffer_Release(&view);
}

/*
 * An idle CPU polls before it blocks.  A CPU with no guest running on its
 * host CPU may spend up to spin_ns polling waitpid(WNOHANG) and its `kicked`
 * word before it blocks in waitpid: a kick from another CPU then costs no
 * doorbell and no cross-CPU wakeup (threads that wake each other across
 * CPUs).  kick() sets the word and says whether the CPU was polling (then
 * no doorbell is needed); the poller clears `polling` and looks at `kicked`
 * once more before blocking, so no kick falls between the two.
 */
#define MAXCPU 64
static int kicked[MAXCPU], polling[MAXCPU];

static PyObject *kick(PyObject *self, PyObject *args)
{
    int cpu;
    if (!PyArg_ParseTuple(args, "i", &cpu) || cpu < 0 || cpu >= MAXCPU)
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "bad cpu");
    __atomic_store_n(&kicked[cpu], 1, __ATOMIC_SEQ_CST);
    return PyBool_FromLong(__atomic_load_n(&polling[cpu], __ATOMIC_SEQ_CST));
}

/* Poll for up to spin_ns: a stop (pid > 0), a kick (-3), an error (-1), or 0. */
static int poll_idle(int cpu, long spin_ns, int *status)
{
    long end = now_ns() + spin_ns;
    int pid = 0;
    __atomic_store_n(&polling[cpu], 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&kicked[cpu], __ATOMIC_SEQ_CST)) {
        pid = waitpid(-1, status, __WALL | __WNOTHREAD | WNOHANG);
        if (pid != 0 || now_ns() >= end)
            break;
        __builtin_ia32_pause();
    }
    __atomic_store_n(&polling[cpu], 0, __ATOMIC_SEQ_CST);
    if (pid == 0 && __atomic_exchange_n(&kicked[cpu], 0, __ATOMIC_SEQ_CST))
        return -3;
    return pid;
}

static PyObject *step(PyObject *self, PyObject *args)
{
    long tid, spin_ns = 0;
    int cpu = -1;
    PyObject *setregs, *regsmap;
    if (!PyArg_ParseTuple(args, "lOO!|il", &tid, &setregs, &PyDict_Type, &regsmap,
                          &cpu, &spin_ns))
        return NULL;
    if (cpu >= MAXCPU)
        cpu = -1;
    Py_buffer view;
    int have_view = 0;
    if (tid > 0 && setregs != Py_None) {
        if (regs_buffer(setregs, &view) < 0)
            return NULL;
        have_view = 1;
    }
    int status = 0, pid = 0, err = 0, rerr = 0;
    Py_BEGIN_ALLOW_THREADS
    if (counted) {
        counted = 0;
        __atomic_sub_fetch(&in_kernel, 1, __ATOMIC_RELEASE);
    }
    if (cpu >= 0)
        __atomic_store_n(&kicked[cpu], 0, __ATOMIC_SEQ_CST);   /* the caller looked */
    if (tid > 0)
        rerr = resume(tid, have_view ? view.buf : NULL);
    if (!rerr && cpu >= 0 && spin_ns > 0)
        pid = poll_idle(cpu, spin_ns, &status);
    if (!rerr && pid == 0)
        pid = waitpid(-1, &status, __WALL | __WNOTHREAD);
    if (pid == -1)
        err = errno;
    else if (!rerr)
        wait_for_kernel();
    Py_END_ALLOW_THREADS
    counted = 1;
    __atomic_add_fetch(&in_kernel, 1, __ATOMIC_RELEASE);
    if (have_view)
        PyBuffer_Release(&view);
    if (rerr)
        return Py_BuildValue("(ii)", -2, rerr);
    if (pid < 0)
        return Py_BuildValue("(ii)", pid, pid == -3 ? 0 : err);
    if (WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80))
        fetch_regs(pid, regsmap);
    return Py_BuildValue("(ii)", pid, status);
}

static PyMethodDef methods[] = {
    {"step", step, METH_VARARGS, "resume a thread, then wait for the next stop"},
    {"kick", kick, METH_VARARGS, "mark a CPU kicked; True if it is polling (no doorbell needed)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastptrace", "the virtual CPU's ptrace hot path", -1, methods,
};

PyMODINIT_FUNC PyInit__fastptrace(void)
{
    return PyModule_Create(&module);
}
