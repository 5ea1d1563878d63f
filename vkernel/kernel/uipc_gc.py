"""Garbage collection of AF_UNIX descriptors in flight (BSD unp_gc, Linux net/unix/garbage.c).

A descriptor sent with SCM_RIGHTS and not yet received is a File
reference held by a queued record.  A socket whose only references are in
flight on sockets that are themselves unreachable (the classic: a socket
sent over itself, then closed) would never be closed by reference
counting alone.  unp_gc finds them: candidates are socket files every one
of whose references is in flight; a candidate is alive if a socket that is
not a candidate, or a live candidate, has it queued; the rest are garbage
and their queued descriptors are thrown away, which closes them.

It runs when an AF_UNIX socket closes and descriptors have been sent
since the last run that found none in flight.
"""
import collections
import weakref

_sockets = weakref.WeakSet()      # every AF_UNIX socket (unp_register)
_state = {"inflight": False, "running": False}


def unp_register(so):
    _sockets.add(so)


def unp_sockets():
    """Every AF_UNIX socket still alive (for ddb's show unpcb)."""
    return list(_sockets)


def unp_inflight_add(files):
    """Descriptors were put in flight: the next close runs the collector."""
    if files:
        _state["inflight"] = True


def _queues(so):
    """so's receive buffer and those of its pending connections."""
    yield so.so_rcv
    for newso in so.so_comp:
        yield newso.so_rcv


def _queued_files(so):
    return [fp for sb in _queues(so) for fp in sb.in_flight_files()]


def _open_sockets():
    from .uipc_socket import SS_NOFDREF
    return [so for so in list(_sockets)
            if getattr(so, "so_file", None) is not None and not so.so_state & SS_NOFDREF]


def _candidates(socks):
    inflight = collections.Counter(fp for so in socks for fp in _queued_files(so))
    if not inflight:
        _state["inflight"] = False
    own = {so.so_file for so in socks}
    return {fp for fp, n in inflight.items() if fp in own and fp.refs == n}


def _garbage(socks, cand):
    live = set()
    stack = [so for so in socks if so.so_file not in cand]
    while stack:
        for fp in _queued_files(stack.pop()):
            if fp in cand and fp not in live:
                live.add(fp)
                stack.append(fp.ops)
    return cand - live


def unp_gc():
    """Close the sockets that only unreachable sockets hold in flight."""
    if _state["running"] or not _state["inflight"]:
        return
    socks = _open_sockets()
    dead = _garbage(socks, _candidates(socks))
    if not dead:
        return
    hit = []
    for fp in dead:
        for sb in _queues(fp.ops):
            for rec in sb:
                hit += rec.rec_rights
                rec.rec_rights = []
    _state["running"] = True
    try:
        for fp in hit:
            fp.drop()
    finally:
        _state["running"] = False
