"""Draws the growth plots of docs/PERFORMANCE.md from scripts/bench-growth.sh's JSON.

    python scripts/plot-growth.py target/bench-growth docs/img

Reads connections.json, optouts.json and map.json (each part only if its file exists; a
map-before.json, kept by hand from an earlier build, is drawn beside map.json) and writes growth-connections.png, growth-optouts.png, growth-startup.png and growth-map.png.
Needs matplotlib (bench-growth.sh runs it from a venv under target/).
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(src, name):
    path = os.path.join(src, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def subtitle(d):
    return f"wrk {d['seconds']} s per point; load average before: {d['load_before']} ({d['nproc']} vCPU)"


def connections(d, dst):
    rows = d["rows"]
    c = [r["connections"] for r in rows]
    rps = [r["generate"]["rps"] / 1000 for r in rows]
    p50 = [r["generate"]["p50_us"] / 1000 for r in rows]
    p99 = [r["generate"]["p99_us"] / 1000 for r in rows]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(c, rps, "o-", color="tab:blue", label="requests/s (thousands)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(c, [str(x) for x in c])
    ax.set_xlabel("wrk connections (1 thread)")
    ax.set_ylabel("thousand requests/s", color="tab:blue")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    ax2.plot(c, p50, "s--", color="tab:green", label="p50 latency")
    ax2.plot(c, p99, "^--", color="tab:red", label="p99 latency")
    ax2.set_yscale("log")
    ax2.set_ylabel("latency, ms (log)")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], loc="upper left")
    ax.set_title("/v2/token/generate against connection count\n" + subtitle(d), fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(dst, "growth-connections.png"), dpi=110)
    plt.close(fig)


def optouts(d, dst):
    rows = d["rows"]
    n = [r["optouts"] for r in rows]
    labels = [f"{x / 1e6:g} M" if x else "0" for x in n]
    x = range(len(n))
    fig, (ax, axm) = plt.subplots(1, 2, figsize=(11, 4.5))
    for kind, color in (("generate", "tab:blue"), ("refresh", "tab:orange")):
        ax.plot(x, [r[kind]["p50_us"] / 1000 for r in rows], "o-", color=color, label=f"{kind} p50")
        ax.plot(x, [r[kind]["p99_us"] / 1000 for r in rows], "^--", color=color, label=f"{kind} p99")
    ax.set_xticks(list(x), labels)
    ax.set_xlabel("stored opt-outs (1,048,576 salt buckets)")
    ax.set_ylabel("latency, ms")
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.set_title(f"latency at {d['connections']} connections", fontsize=10)
    rss = [r["rss_kib_ready"] / 1024 for r in rows]
    axm.bar(list(x), rss, color="tab:purple")
    base = rows[0]["rss_kib_ready"] if rows[0]["optouts"] == 0 else None
    for i, r in enumerate(rows):
        text = f"{rss[i]:.0f} MiB"
        if base is not None and r["optouts"]:
            text += f"\n{(r['rss_kib_ready'] - base) * 1024 / r['optouts']:.0f} B/record"
        axm.annotate(text, (i, rss[i]), ha="center", va="bottom", fontsize=9)
    axm.set_xticks(list(x), labels)
    axm.set_xlabel("stored opt-outs")
    axm.set_ylabel("resident memory when ready, MiB")
    axm.set_ylim(0, max(rss) * 1.25)
    axm.set_title("RSS and memory per opt-out record", fontsize=10)
    fig.suptitle("Opt-out store size\n" + subtitle(d), fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(dst, "growth-optouts.png"), dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(list(x), [r["startup_s"] for r in rows], color="tab:gray")
    for i, r in enumerate(rows):
        ax.annotate(f"{r['startup_s']:.2f} s", (i, r["startup_s"]), ha="center", va="bottom", fontsize=9)
    ax.set_xticks(list(x), labels)
    ax.set_xlabel("stored opt-outs (1,048,576 salt buckets)")
    ax.set_ylabel("start to first healthy answer, s")
    ax.set_ylim(0, max(r["startup_s"] for r in rows) * 1.2)
    ax.set_title("Operator start-up time\n" + subtitle(d), fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(dst, "growth-startup.png"), dpi=110)
    plt.close(fig)


def identity_map(d, dst, before=None):
    """Generate beside maps; `before` (map-before.json, if kept) is drawn dashed in gray."""
    per = d["identities_per_request"]

    def series(m):
        rows = m["rows"]
        gens = [m["generate_alone"]] + [r["generate"] for r in rows]
        ids = [m["map_alone"]["rps"] * per] + [r["map"]["rps"] * per for r in rows]
        return gens, ids

    labels = ["none"] + [str(r["map_connections"]) for r in d["rows"]]
    x = list(range(len(labels)))
    gens, ids = series(d)
    fig, (ax, axr, axi) = plt.subplots(1, 3, figsize=(14, 4.5))
    ax.plot(x, [g["p50_us"] / 1000 for g in gens], "o-", color="tab:blue", label="p50")
    ax.plot(x, [g["p90_us"] / 1000 for g in gens], "s-", color="tab:orange", label="p90")
    ax.plot(x, [g["p99_us"] / 1000 for g in gens], "^-", color="tab:red", label="p99")
    axr.plot(x, [g["rps"] / 1000 for g in gens], "o-", color="tab:blue", label="now")
    axi.plot(x[1:], [i / 1e6 for i in ids[1:]], "o-", color="tab:green", label="now")
    if before is not None:
        bg, bi = series(before)
        ax.plot(x, [g["p90_us"] / 1000 for g in bg], "s--", color="gray", label="p90 before")
        axr.plot(x, [g["rps"] / 1000 for g in bg], "o--", color="gray", label="before")
        axi.plot(x[1:], [i / 1e6 for i in bi[1:]], "o--", color="gray", label="before")
    ax.set_yscale("log")
    ax.set_ylabel("generate latency, ms (log)")
    axr.set_ylabel("generate, thousand requests/s")
    axr.set_ylim(bottom=0)
    axi.set_ylabel("million identities/s mapped")
    axi.set_ylim(bottom=0)
    for a in (ax, axr, axi):
        a.set_xticks(x, labels)
        a.set_xlabel("concurrent 5,000-identity map connections")
        a.legend(fontsize=8)
    ax.set_title(f"generate latency ({d['generate_connections']} connections)", fontsize=10)
    axr.set_title("generate throughput beside the maps", fontsize=10)
    one = d["map_alone"]["rps"] * per / 1e6
    axi.set_title(f"/v3/identity/map throughput (1 conn. alone: {one:.2f} M/s)", fontsize=10)
    fig.suptitle("Identity map (" + f"{per} identities per request)\n" + subtitle(d), fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(dst, "growth-map.png"), dpi=110)
    plt.close(fig)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for name, draw in (("connections.json", connections), ("optouts.json", optouts)):
        d = load(src, name)
        if d is not None:
            draw(d, dst)
            print(f"plot-growth: drew {name}")
    d = load(src, "map.json")
    if d is not None:
        identity_map(d, dst, load(src, "map-before.json"))
        print("plot-growth: drew map.json")


if __name__ == "__main__":
    main()
