"""getrandom(2) flags and /dev/random ioctls.

Linux counterpart: include/uapi/linux/random.h.  Data only.
"""
from .ioctl import _IO, _IOR, _IOW

GRND_NONBLOCK = 0x0001
GRND_RANDOM = 0x0002
GRND_INSECURE = 0x0004

RNDGETENTCNT = _IOR("R", 0x00, 4)
RNDADDTOENTCNT = _IOW("R", 0x01, 4)
RNDGETPOOL = _IOR("R", 0x02, 8)
RNDADDENTROPY = _IOW("R", 0x03, 8)
RNDZAPENTCNT = _IO("R", 0x04)
RNDCLEARPOOL = _IO("R", 0x06)
RNDRESEEDCRNG = _IO("R", 0x07)
