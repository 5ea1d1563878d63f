"""Socket buffers: a socket's receive queue of records (BSD uipc_sockbuf.c).

BSD keeps a `struct sockbuf` of mbuf chains, one record per datagram;
Linux keeps `sk_receive_queue`, a list of sk_buffs.  Here a Sockbuf is a
queue of `Record`s, one per message (a datagram, a SOCK_SEQPACKET
message, or one piece of a stream), carrying what travelled with it:

  rec_sender  the sending socket.  Its `so_wmem` counts the bytes it has
              queued and nobody has read yet (Linux's sk_wmem_alloc): the
              sender's SO_SNDBUF limits that, and reading gives it back.
  rec_addr    the sender's address (struct sockaddr bytes) or None.
  rec_rights  descriptors in flight (SCM_RIGHTS): File references the
              record holds until a receiver installs them or they are
              thrown away with the record.
  rec_cred    (pid, uid, gid) of the sender (SCM_CREDENTIALS) or None.

Stream reads take bytes from successive records; datagram reads take one
record whole.  Nothing here sleeps or wakes anyone: uipc_socket.py does.
"""
import collections


class Record:
    """One queued message (an mbuf record, an sk_buff)."""

    __slots__ = ("rec_data", "rec_off", "rec_sender", "rec_addr", "rec_rights", "rec_cred")

    def __init__(self, data, sender=None, addr=None, rights=None, cred=None):
        self.rec_data = bytes(data)
        self.rec_off = 0                  # bytes already read (streams)
        self.rec_sender = sender
        self.rec_addr = addr
        self.rec_rights = rights or []
        self.rec_cred = cred

    def __len__(self):
        return len(self.rec_data) - self.rec_off

    def peek(self, n):
        """Up to n unread bytes, left unread."""
        return self.rec_data[self.rec_off:self.rec_off + n]

    def release_rights(self):
        """Close the descriptors still in flight (unp_dispose)."""
        rights, self.rec_rights = self.rec_rights, []
        for fp in rights:
            fp.drop()


class Sockbuf:
    """struct sockbuf: the records queued for one socket to read."""

    def __init__(self, hiwat):
        self.sb_records = collections.deque()
        self.sb_cc = 0                    # bytes queued
        self.sb_hiwat = hiwat             # SO_RCVBUF

    def __len__(self):
        return len(self.sb_records)

    def __bool__(self):
        return bool(self.sb_records)

    def __iter__(self):
        return iter(self.sb_records)

    def first(self):
        return self.sb_records[0] if self.sb_records else None

    def sbappend(self, rec):
        """Queue rec; the sender pays for its bytes until they are read."""
        self.sb_records.append(rec)
        self.sb_cc += len(rec)
        if rec.rec_sender is not None:
            rec.rec_sender.so_wmem += len(rec)

    def sbconsume(self, rec, n):
        """Mark n bytes of the first record read; unlink it when it is empty.
        Returns the sender, whose in-flight count went down by n."""
        rec.rec_off += n
        self.sb_cc -= n
        if not len(rec):
            self.sb_records.popleft()
        sender = rec.rec_sender
        if sender is not None:
            sender.so_wmem -= n
        return sender

    def sbdroprecord(self):
        """Unlink the first record whole (a datagram read, even in part).
        Returns its sender; the record's rights are the caller's now."""
        rec = self.sb_records[0]
        return self.sbconsume(rec, len(rec))      # an empty datagram is unlinked too

    def sbflush(self):
        """Throw every record away (the socket is closing); returns the
        senders whose in-flight counts went down, to be woken."""
        senders = set()
        while self.sb_records:
            rec = self.sb_records[0]
            sender = self.sbdroprecord()
            rec.release_rights()
            if sender is not None:
                senders.add(sender)
        return senders

    def in_flight_files(self):
        """Every File held by a queued record (for unp_gc)."""
        return [fp for rec in self.sb_records for fp in rec.rec_rights]
