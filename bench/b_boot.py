"""Benchmark 4: boot.  `vkernel -r ROOT -- /bin/true` and a shell prompt.

- boot_true: wall time of `vkernel -r ROOT -- /bin/true` (Python start-up,
  imports, mounting the root, the console, exec of busybox, exit) against
  the same busybox /bin/true run natively on the same CPU.
- boot_rss: peak resident memory of that vkernel run (ru_maxrss from
  wait4: the vkernel process and the guests it reaped) against the native
  /bin/true's.  `python3 -c pass` is recorded alongside as the floor that
  any Python program pays.
- boot_prompt: time from starting `vkernel -r ROOT -s` on a pty (pexpect)
  to the first "# " of the single-user shell, then `exit` is sent; against
  the same busybox sh started natively on a pty with PS1="# ".
"""
import os
import sys
import time

import pexpect

from .harness import BenchError, cpu, figure, interleave, vkernel_argv, walls

PROMPT = "# "
PROMPT_TIMEOUT = 60


def _prompt_time(argv, env, cpu=None):
    """Seconds from spawning argv on a pty to its first PROMPT; then `exit`."""
    saved = os.sched_getaffinity(0)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        t0 = time.perf_counter()
        child = pexpect.spawn(argv[0], argv[1:], env=env, timeout=PROMPT_TIMEOUT)
    finally:
        os.sched_setaffinity(0, saved)
    try:
        child.expect_exact(PROMPT)
        took = time.perf_counter() - t0
        child.sendline("exit")
        child.expect(pexpect.EOF)
    except (pexpect.TIMEOUT, pexpect.EOF) as e:
        raise BenchError(f"no {PROMPT!r} prompt from {' '.join(argv)}: "
                         f"{type(e).__name__}; output: {child.before!r}") from None
    finally:
        child.close(force=True)
    return took


def _vk_prompt(setup):
    env = dict(setup.env, TERM="vt100")
    return _prompt_time(vkernel_argv(setup.root, options=["-s"]), env)


def _native_prompt(setup):
    env = {"PS1": PROMPT, "TERM": "vt100", "PATH": "/bin"}
    return _prompt_time([setup.host_path("/bin/sh")], env, cpu=setup.cpu)


def _true_figures(setup, reps):
    res = interleave(reps, {
        "vk": lambda: setup.run_vkernel("/bin/true"),
        "native": lambda: setup.run([setup.host_path("/bin/true")], pinned=True),
        "python": lambda: setup.run([sys.executable, "-c", "pass"]),
    })
    vk, nat, py = (min(s.wall for s in res[k]) for k in ("vk", "native", "python"))
    vk_cpu, nat_cpu = (min(map(cpu, res[k])) for k in ("vk", "native"))
    rss = {k: max(s.maxrss_kb for s in v) for k, v in res.items()}
    raw = {**{f"{k}_wall_s": walls(v) for k, v in res.items()},
           **{f"{k}_maxrss_kb": [s.maxrss_kb for s in v] for k, v in res.items()},
           "python_floor_s": round(py, 6), "python_floor_maxrss_kb": rss["python"]}
    return {
        "boot_true": figure("boot: vkernel -- /bin/true", "ms", vk * 1e3, nat * 1e3,
                            "native busybox true", vk / nat, raw=raw,
                            cpu_ratio=vk_cpu / max(nat_cpu, 1e-6)),
        "boot_rss": figure("boot: peak RSS of -- /bin/true", "MB", rss["vk"] / 1024,
                           rss["native"] / 1024, "native busybox true",
                           rss["vk"] / rss["native"],
                           raw={"vk_maxrss_kb": rss["vk"], "native_maxrss_kb": rss["native"],
                                "python_floor_maxrss_kb": rss["python"]}),
    }


def _prompt_figure(setup, reps):
    res = interleave(reps, {"vk": lambda: _vk_prompt(setup),
                            "native": lambda: _native_prompt(setup)})
    vk, nat = min(res["vk"]), min(res["native"])
    raw = {f"{k}_s": [round(t, 6) for t in v] for k, v in res.items()}
    return {"boot_prompt": figure("boot: -s to first '# ' prompt", "ms", vk * 1e3,
                                  nat * 1e3, "native busybox sh", vk / nat, raw=raw)}


def run(setup, reps, prompt=True):
    figs = _true_figures(setup, reps)
    if prompt:
        figs.update(_prompt_figure(setup, reps))
    return figs
