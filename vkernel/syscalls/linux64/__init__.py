"""Linux x86-64 syscall handlers, one module per family (sys_<family>.py).

Importing this package registers every handler in vkernel.syscalls.table.
"""
import importlib
import pkgutil

for _m in pkgutil.iter_modules(__path__):
    if _m.name.startswith("sys_"):
        importlib.import_module(f"{__name__}.{_m.name}")
