"""Guest programs for vkernel: C sources in guest/src and their builder.

The C programs are small, deterministic Linux x86-64 test programs that are
run both natively and inside vkernel so their outputs can be compared.
Binaries are never committed; build them with ``python3 -m guest.build OUTDIR``
or :func:`guest.build.build_all`.
"""
