"""Where a server's CPU goes per request, from `perf script` output of a cpu-clock profile:

    perf script -i perf.data -F comm,ip,sym,dso | python3 scripts/profile-breakdown.py SECONDS REQUESTS

Counts the samples of tokio worker threads (perf record -F 999: one sample ~ 1 ms of CPU),
files each under the pipeline (any frame in `run_pipeline`), a system call (kernel leaf,
named by its `__x64_sys_*` frame) or a user-space group picked by the leaf symbol, and
prints each group's share and its CPU microseconds per request. Used by
scripts/profile-http.sh; see docs/PERFORMANCE.md.
"""

import collections
import re
import sys

GROUPS = [
    ("timers + clock", r"tokio::time|runtime::time|TokioSleep|TokioTimer|Sleep|clock_gettime|Timespec|Instant"),
    ("access log enqueue", r"AccessLog|mpmc"),
    ("metrics", r"Metrics"),
    ("malloc/free", r"malloc|free|realloc|tcache|_int_|unlink_chunk|alloc::"),
    ("memcpy/memset", r"memcpy|memmove|memset"),
    ("http::HeaderMap", r"HeaderMap|header::|try_insert_entry|HeaderValue"),
    ("hyper", r"hyper|httparse"),
    ("axum/tower (CORS from_fn included)", r"axum|tower|cors|from_fn"),
    ("tokio scheduler/io", r"tokio"),
    ("bytes", r"bytes::"),
    ("operator shell", r"euid_operator"),
]


def main():
    hz, requests = float(sys.argv[1]), int(sys.argv[2])
    counts = collections.Counter()
    total = 0
    for block in sys.stdin.read().split("\n\n"):
        lines = [ln for ln in block.split("\n") if ln.strip()]
        if len(lines) < 2 or "tokio-rt-worker" not in lines[0]:
            continue
        total += 1
        frames = [ln.split(None, 1)[1] if len(ln.split(None, 1)) > 1 else "" for ln in lines[1:]]
        if any("run_pipeline" in f for f in frames):
            counts["pipeline (api::handle)"] += 1
            continue
        if "[kernel" in lines[1]:
            name = "kernel: other"
            for f in frames:
                m = re.search(r"__x64_sys_(\w+)", f)
                if m:
                    name = "kernel: " + m.group(1)
                    break
                if "do_writev" in f or "vfs_writev" in f:
                    name = "kernel: writev"
                    break
            counts[name] += 1
            continue
        for name, pattern in GROUPS:
            if re.search(pattern, frames[0]):
                counts["user: " + name] += 1
                break
        else:
            counts["user: other"] += 1
    if not total:
        sys.exit("profile-breakdown: no tokio-rt-worker samples")
    per_sample_us = 1e6 / hz
    print(f"{total} samples, {total * per_sample_us / requests:.2f} us of worker CPU per request")
    for name, n in counts.most_common():
        print(f"  {name:44s} {100 * n / total:5.1f} %  {n * per_sample_us / requests:5.2f} us/request")


if __name__ == "__main__":
    main()
