"""Kernel struct termios/termios2/winsize, their flag bits, c_cc indices and defaults.

Linux counterparts: include/uapi/asm-generic/termbits-common.h and
include/uapi/asm-generic/termbits.h (x86-64 uses these unchanged: struct
termios with NCCS=19, 36 bytes; termios2, 44 bytes), include/uapi/asm-generic/
termios.h (struct winsize, TIOCM_*), include/linux/tty.h (INIT_C_CC) and
drivers/tty/tty_io.c / pty.c (tty_std_termios and the pty defaults).  This is
the *kernel* layout that TCGETS copies, not glibc's struct termios (which has
c_cc[32] and speed fields).  The defaults were also confirmed by reading a
fresh pty on the build machine.  Data only.
"""
from ._layout import Layout

NCCS = 19

# c_cc indices.
VINTR = 0
VQUIT = 1
VERASE = 2
VKILL = 3
VEOF = 4
VTIME = 5
VMIN = 6
VSWTC = 7
VSTART = 8
VSTOP = 9
VSUSP = 10
VEOL = 11
VREPRINT = 12
VDISCARD = 13
VWERASE = 14
VLNEXT = 15
VEOL2 = 16

# c_iflag bits.
IGNBRK = 0x001
BRKINT = 0x002
IGNPAR = 0x004
PARMRK = 0x008
INPCK = 0x010
ISTRIP = 0x020
INLCR = 0x040
IGNCR = 0x080
ICRNL = 0x100
IUCLC = 0x0200
IXON = 0x0400
IXANY = 0x800
IXOFF = 0x1000
IMAXBEL = 0x2000
IUTF8 = 0x4000

# c_oflag bits.
OPOST = 0x01
OLCUC = 0x02
ONLCR = 0x04
OCRNL = 0x08
ONOCR = 0x10
ONLRET = 0x20
OFILL = 0x40
OFDEL = 0x80
NLDLY = 0x00100
NL0 = 0x00000
NL1 = 0x00100
CRDLY = 0x00600
CR0 = 0x00000
CR1 = 0x00200
CR2 = 0x00400
CR3 = 0x00600
TABDLY = 0x01800
TAB0 = 0x00000
TAB1 = 0x00800
TAB2 = 0x01000
TAB3 = 0x01800
XTABS = 0x01800
BSDLY = 0x02000
BS0 = 0x00000
BS1 = 0x02000
VTDLY = 0x04000
VT0 = 0x00000
VT1 = 0x04000
FFDLY = 0x08000
FF0 = 0x00000
FF1 = 0x08000

# c_cflag bits.
CBAUD = 0x0000100F
CSIZE = 0x00000030
CS5 = 0x00000000
CS6 = 0x00000010
CS7 = 0x00000020
CS8 = 0x00000030
CSTOPB = 0x00000040
CREAD = 0x00000080
PARENB = 0x00000100
PARODD = 0x00000200
HUPCL = 0x00000400
CLOCAL = 0x00000800
CBAUDEX = 0x00001000
BOTHER = 0x00001000
CIBAUD = 0x100F0000
ADDRB = 0x20000000
CMSPAR = 0x40000000
CRTSCTS = 0x80000000
IBSHIFT = 16

# Baud rates (CBAUD field values).
B0 = 0x00000000
B50 = 0x00000001
B75 = 0x00000002
B110 = 0x00000003
B134 = 0x00000004
B150 = 0x00000005
B200 = 0x00000006
B300 = 0x00000007
B600 = 0x00000008
B1200 = 0x00000009
B1800 = 0x0000000A
B2400 = 0x0000000B
B4800 = 0x0000000C
B9600 = 0x0000000D
B19200 = 0x0000000E
B38400 = 0x0000000F
EXTA = B19200
EXTB = B38400
B57600 = 0x00001001
B115200 = 0x00001002
B230400 = 0x00001003
B460800 = 0x00001004
B500000 = 0x00001005
B576000 = 0x00001006
B921600 = 0x00001007
B1000000 = 0x00001008
B1152000 = 0x00001009
B1500000 = 0x0000100A
B2000000 = 0x0000100B
B2500000 = 0x0000100C
B3000000 = 0x0000100D
B3500000 = 0x0000100E
B4000000 = 0x0000100F

BAUD_RATES = {
    B0: 0, B50: 50, B75: 75, B110: 110, B134: 134, B150: 150, B200: 200,
    B300: 300, B600: 600, B1200: 1200, B1800: 1800, B2400: 2400,
    B4800: 4800, B9600: 9600, B19200: 19200, B38400: 38400,
    B57600: 57600, B115200: 115200, B230400: 230400, B460800: 460800,
    B500000: 500000, B576000: 576000, B921600: 921600, B1000000: 1000000,
    B1152000: 1152000, B1500000: 1500000, B2000000: 2000000,
    B2500000: 2500000, B3000000: 3000000, B3500000: 3500000, B4000000: 4000000,
}

# c_lflag bits.
ISIG = 0x00001
ICANON = 0x00002
XCASE = 0x00004
ECHO = 0x00008
ECHOE = 0x00010
ECHOK = 0x00020
ECHONL = 0x00040
NOFLSH = 0x00080
TOSTOP = 0x00100
ECHOCTL = 0x00200
ECHOPRT = 0x00400
ECHOKE = 0x00800
FLUSHO = 0x01000
PENDIN = 0x04000
IEXTEN = 0x08000
EXTPROC = 0x10000

# tcflow() / TCXONC, tcflush() / TCFLSH, tcsetattr() actions.
TCOOFF = 0
TCOON = 1
TCIOFF = 2
TCION = 3
TCIFLUSH = 0
TCOFLUSH = 1
TCIOFLUSH = 2
TCSANOW = 0
TCSADRAIN = 1
TCSAFLUSH = 2

# Line disciplines (TIOCSETD/TIOCGETD).
N_TTY = 0

# Modem lines (TIOCMGET etc.).
TIOCM_LE = 0x001
TIOCM_DTR = 0x002
TIOCM_RTS = 0x004
TIOCM_ST = 0x008
TIOCM_SR = 0x010
TIOCM_CTS = 0x020
TIOCM_CAR = 0x040
TIOCM_RNG = 0x080
TIOCM_DSR = 0x100
TIOCM_CD = TIOCM_CAR
TIOCM_RI = TIOCM_RNG

# TIOCPKT packet-mode status bytes.
TIOCPKT_DATA = 0
TIOCPKT_FLUSHREAD = 1
TIOCPKT_FLUSHWRITE = 2
TIOCPKT_STOP = 4
TIOCPKT_START = 8
TIOCPKT_NOSTOP = 16
TIOCPKT_DOSTOP = 32
TIOCPKT_IOCTL = 64


def ctrl(ch):
    """Control-character code for a letter/symbol, e.g. ctrl("C") == 3."""
    return ord(ch.upper()) & 0x1F


# Default control characters (INIT_C_CC), one per c_cc index.
DEFAULT_CC = {
    VINTR: ctrl("C"), VQUIT: ctrl("\\"), VERASE: 0x7F, VKILL: ctrl("U"),
    VEOF: ctrl("D"), VTIME: 0, VMIN: 1, VSWTC: 0, VSTART: ctrl("Q"),
    VSTOP: ctrl("S"), VSUSP: ctrl("Z"), VEOL: 0, VREPRINT: ctrl("R"),
    VDISCARD: ctrl("O"), VWERASE: ctrl("W"), VLNEXT: ctrl("V"), VEOL2: 0,
}
DEFAULT_CC_BYTES = bytes(DEFAULT_CC.get(i, 0) for i in range(NCCS))

# tty_std_termios.
DEFAULT_IFLAG = ICRNL | IXON
DEFAULT_OFLAG = OPOST | ONLCR
DEFAULT_CFLAG = B38400 | CS8 | CREAD | HUPCL
DEFAULT_LFLAG = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN
DEFAULT_SPEED = 38400
# Unix98 ptys start with the same flags except c_cflag lacks HUPCL.
PTY_DEFAULT_CFLAG = B38400 | CS8 | CREAD

# ----------------------------------------------------------------- layouts

TERMIOS = Layout("termios", [
    ("c_iflag", "I"), ("c_oflag", "I"), ("c_cflag", "I"), ("c_lflag", "I"),
    ("c_line", "B"), ("c_cc", f"{NCCS}s"),
])
TERMIOS_SIZE = TERMIOS.size  # 36

TERMIOS2 = Layout("termios2", [
    ("c_iflag", "I"), ("c_oflag", "I"), ("c_cflag", "I"), ("c_lflag", "I"),
    ("c_line", "B"), ("c_cc", f"{NCCS}s"), ("c_ispeed", "I"), ("c_ospeed", "I"),
])
TERMIOS2_SIZE = TERMIOS2.size  # 44

WINSIZE = Layout("winsize", [
    ("ws_row", "H"), ("ws_col", "H"), ("ws_xpixel", "H"), ("ws_ypixel", "H"),
])
WINSIZE_SIZE = WINSIZE.size  # 8


def pack_termios(iflag=DEFAULT_IFLAG, oflag=DEFAULT_OFLAG, cflag=DEFAULT_CFLAG,
                 lflag=DEFAULT_LFLAG, line=N_TTY, cc=DEFAULT_CC_BYTES):
    """Pack a kernel struct termios (TCGETS/TCSETS*); cc is up to 19 bytes."""
    return TERMIOS.pack(c_iflag=iflag, c_oflag=oflag, c_cflag=cflag,
                        c_lflag=lflag, c_line=line, c_cc=bytes(cc))


def unpack_termios(buf, offset=0):
    """Unpack a kernel struct termios -> namedtuple (c_cc as bytes)."""
    return TERMIOS.unpack(buf, offset)


def pack_termios2(iflag=DEFAULT_IFLAG, oflag=DEFAULT_OFLAG, cflag=DEFAULT_CFLAG,
                  lflag=DEFAULT_LFLAG, line=N_TTY, cc=DEFAULT_CC_BYTES,
                  ispeed=DEFAULT_SPEED, ospeed=DEFAULT_SPEED):
    """Pack a struct termios2 (TCGETS2/TCSETS2): termios plus explicit speeds."""
    return TERMIOS2.pack(c_iflag=iflag, c_oflag=oflag, c_cflag=cflag,
                         c_lflag=lflag, c_line=line, c_cc=bytes(cc),
                         c_ispeed=ispeed, c_ospeed=ospeed)


def unpack_termios2(buf, offset=0):
    """Unpack a struct termios2 -> namedtuple."""
    return TERMIOS2.unpack(buf, offset)


def pack_winsize(rows=24, cols=80, xpixel=0, ypixel=0):
    """Pack a struct winsize (TIOCGWINSZ/TIOCSWINSZ)."""
    return WINSIZE.pack(ws_row=rows, ws_col=cols, ws_xpixel=xpixel, ws_ypixel=ypixel)


def unpack_winsize(buf, offset=0):
    """Unpack a struct winsize -> namedtuple(ws_row, ws_col, ws_xpixel, ws_ypixel)."""
    return WINSIZE.unpack(buf, offset)
