"""The results table and bench/results.json.

No kernel counterpart.  One row per figure: the vkernel's figure, the
baseline's (same unit, measured in the same run), their ratio (vkernel
cost / baseline cost: 1.00x is parity, higher is slower or bigger) and the
target where issue 2 sets one.  "cpu ratio" is the same ratio computed
from user + system CPU time: it does not move when other host processes
share the CPU, so a wall ratio far from it means the machine was busy.
"""
import json
import os

COLUMNS = ("benchmark", "vkernel", "baseline", "ratio", "cpu ratio", "target")


def _num(x):
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _verdict(fig):
    if fig["target"] is None:
        return "-"
    if fig["meets_target"] is None:
        return f"<= {fig['target']}x n/a"
    mark = "ok" if fig["meets_target"] else "MISS"
    return f"<= {fig['target']}x {mark}"


def row(fig):
    noisy = " (noisy)" if fig["noisy"] else ""
    return (fig["title"],
            f"{_num(fig['vkernel'])} {fig['unit']}",
            f"{_num(fig['baseline'])} {fig['unit']} ({fig['baseline_name']})",
            f"{fig['ratio']:.2f}x{noisy}",
            "-" if fig["cpu_ratio"] is None else f"{fig['cpu_ratio']:.2f}x",
            _verdict(fig))


def table(results):
    """The figures as a fixed-width text table."""
    rows = [COLUMNS] + [row(f) for f in results["figures"].values()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    meta = results["meta"]
    lines.append("")
    lines.append(f"host CPU {meta['cpu']} of {meta['host_cpus']}, load {meta['loadavg']}, "
                 f"reps {meta['reps']}, scale {meta['scale']}, {meta['elapsed_s']:.0f} s")
    return "\n".join(lines)


def write_json(results, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)
