"""vkernel.abi.linux: the Linux x86-64 user/kernel ABI as plain data.

Modelled on gVisor's pkg/abi/linux.  Every module here holds constants, struct
layouts (struct.Struct-based, little-endian, explicitly padded) and tiny
pack/unpack helpers -- and nothing else: no kernel logic, no state, no I/O.

Rule: modules in this package import only the Python standard library and
other modules of vkernel.abi (never the rest of vkernel), so any part of the
kernel can import them without creating cycles.  Every value was checked
against the Linux 6.1 uapi headers / glibc 2.36 on the build machine; see
tests/unit/test_abi.py, which re-checks them with gcc at test time.
"""
