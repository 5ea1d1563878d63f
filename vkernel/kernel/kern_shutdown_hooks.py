"""The way down: boot(howto) as the rest of the kernel sees it.

init_main installs `handler(how)`, which kills every guest, syncs, unmounts
and leaves the CPU loop; `how` is "halt" or "poweroff" (exit 0) or
"reboot" (exit 32).
"""
handler = None


def boot(how):
    """Shut the system down; does not return."""
    handler(how)
    raise SystemExit(f"boot({how}) returned")
