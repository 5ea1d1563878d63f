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

static int resume(long tid, PyObject *setregs)
{
    if (setregs != Py_None) {
        Py_buffer view;
        if (regs_buffer(setregs, &view) < 0)
            return -1;
        long r = ptrace(PTRACE_SETREGS, tid, 0, view.buf);
        PyBuffer_Release(&view);
        if (r < 0)
            return errno;
    }
    if (ptrace(PTRACE_SYSEMU, tid, 0, 0) < 0)
        return errno;
    return 0;
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

static PyObject *step(PyObject *self, PyObject *args)
{
    long tid;
    PyObject *setregs, *regsmap;
    if (!PyArg_ParseTuple(args, "lOO!", &tid, &setregs, &PyDict_Type, &regsmap))
        return NULL;
    if (tid > 0) {
        int err = resume(tid, setregs);
        if (err < 0)
            return NULL;
        if (err > 0)
            return Py_BuildValue("(ii)", -2, err);
    }
    int status = 0, pid, err = 0;
    Py_BEGIN_ALLOW_THREADS
    pid = waitpid(-1, &status, __WALL | __WNOTHREAD);
    if (pid < 0)
        err = errno;
    Py_END_ALLOW_THREADS
    if (pid < 0)
        return Py_BuildValue("(ii)", -1, err);
    if (WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80))
        fetch_regs(pid, regsmap);
    return Py_BuildValue("(ii)", pid, status);
}

static PyMethodDef methods[] = {
    {"step", step, METH_VARARGS, "resume a thread, then wait for the next stop"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastptrace", "the virtual CPU's ptrace hot path", -1, methods,
};

PyMODINIT_FUNC PyInit__fastptrace(void)
{
    return PyModule_Create(&module);
}
