"""The way down: boot(howto) as the rest of the kernel sees it.

init_main installs `handler(how)`, which syncs, kills every guest and
leaves the CPU loop; `how` is "halt" (exit 0) or "reboot" (exit 32).
"""
handler = None


def boot(how):
    """Shut the system down; does not return."""
    handler(how)
    raise SystemExit(f"boot({how}) returned")
