"""Run by test_dynamic.py with python3 inside vkernel and natively: threads,
subprocess, os.walk, tempfile, json and signal; prints one JSON line."""
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

out = {}

# threads: a shared counter under a lock, results through a queue
lock = threading.Lock()
count = [0]
q = queue.Queue()


def worker(n):
    for _ in range(2000):
        with lock:
            count[0] += 1
    q.put(n * n)


ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
out["threads"] = [count[0], sorted(q.get() for _ in ts)]

# tempfile + os.walk
with tempfile.TemporaryDirectory() as d:
    for sub in ("a", "a/b", "c"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    for i, sub in enumerate(("a", "a/b", "c", "")):
        with open(os.path.join(d, sub, f"f{i}.txt"), "w") as f:
            f.write("x" * (i + 1))
    walk = []
    for root, dirs, files in os.walk(d):
        dirs.sort()
        walk.append([os.path.relpath(root, d), sorted(files)])
    out["walk"] = walk
    with tempfile.NamedTemporaryFile("w+", dir=d, suffix=".json", delete=False) as tf:
        json.dump({"k": [1, 2, 3]}, tf)
    with open(tf.name) as f:
        out["json_roundtrip"] = json.load(f)
out["tmp_removed"] = not os.path.exists(d)

# subprocess: a pipeline through sh, exit status, stdin
r = subprocess.run(["/bin/sh", "-c", "printf 'b\\na\\nb\\n' | sort | uniq -c; exit 3"],
                   capture_output=True, text=True)
out["subprocess"] = [r.returncode, r.stdout.split()]
r = subprocess.run(["/bin/cat"], input="piped", capture_output=True, text=True)
out["stdin"] = r.stdout
p = subprocess.Popen(["/bin/sleep", "30"])
p.send_signal(signal.SIGTERM)
out["killed_child"] = p.wait()

# signal: a handler for SIGUSR1 and an alarm
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
signal.signal(signal.SIGALRM, lambda s, f: got.append(s))
signal.setitimer(signal.ITIMER_REAL, 0.2)
deadline = time.monotonic() + 10
while len(got) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
out["signals"] = got

print(json.dumps(out, sort_keys=True))
sys.exit(0)
