#!/usr/bin/env python3
"""Fails when a module-level import cycle appears in a crate.

Each source file of a crate's `src/` is a module (`src/a.rs` and `src/a/mod.rs` are `a`,
`src/a/b.rs` is `a::b`). A module depends on another when it names a path into it:
`crate::a::b::item`, `super::x`, `self::x` (in `use` declarations or inline paths), resolved
to the deepest module file that exists. Edges into the crate root and from a module into its
own submodules are left out (a parent declares and re-exports its children). Code in `#[cfg(test)]` blocks at the end of a file
(unit tests) is ignored, since tests may reach anywhere. A cycle is a strongly connected
component of more than one module.

Usage: check-import-cycles.py [CRATE_DIR ...]   (default: every crates/*/ and benches/)

LAYERS names, for a crate split into a sans-IO core and an I/O shell, which modules are which:
a core module may not name a shell module, nor an I/O crate or OS facility (sockets, files,
threads, the OS clock, OS randomness), and every module must be in one of the two lists, so a
new module is placed on purpose.

KNOWN may list cycles that exist while they are being removed: they are reported but do not
fail the check. Any other cycle fails it, and so does a KNOWN entry that no longer matches a
cycle (delete it), so the list can only shrink.
"""

import os
import re
import sys

PATH_RE = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+|::\{)")
USE_GROUP_RE = re.compile(r"\buse\s+(crate|super|self)::\{([^;]*)\};", re.S)


# Cycles being removed are listed here as (crate, sorted module names) while they exist; the
# list is empty now that the operator's modules form a DAG.
KNOWN: set = set()


# crate directory name -> (core modules, shell modules); the root (lib.rs) and main.rs only
# declare and re-export.
LAYERS = {
    "euid-operator": (
        {"api", "api_document", "api_error", "api_response", "clients", "config", "endpoints", "route", "snapshot", "utc_time"},
        {"access_log", "clock", "cors", "key_rotation", "metrics", "optout", "server", "state"},
    ),
}

# What a core module may not name: the async runtime, HTTP, the database, and the OS.
CORE_FORBIDDEN_RE = re.compile(
    r"\b(tokio|axum|hyper|hyper_util|rusqlite|tracing_subscriber|arc_swap)::"
    r"|\bstd::(fs|net|thread|process|env)\b"
    r"|\bstd::\{[^}]*\b(fs|net|thread|process|env)\b"
    # euid-store's file side: the core reads a StoreSnapshot, never the directory.
    r"|\b(DataDirStore|write_atomic|init_data_dir|open_data_dir|maintain_keys|rotate_keys)\b"
    r"|\b(SystemTime|Instant)::now\b"
    r"|\b(BatchedOsRandom|FastRandom|OsRng)\b"
)


def layer_problems(crate_dir, crate, mods, graph, texts):
    if crate not in LAYERS:
        return []
    core, shell = LAYERS[crate]
    problems = []
    for mod in sorted(mods):
        if not mod:
            continue
        top = mod[0]
        if top not in core and top not in shell:
            problems.append(f"{crate_dir}: module {name(mod)} is in neither the core nor the shell list (LAYERS)")
            continue
        if top not in core:
            continue
        for dep in sorted(graph.get(mod, ())):
            if dep and dep[0] in shell:
                problems.append(f"{crate_dir}: core module {name(mod)} names shell module {name(dep)}")
        for m in CORE_FORBIDDEN_RE.finditer(texts[mod]):
            problems.append(f"{crate_dir}: core module {name(mod)} uses {m.group(0)}")
    for listed in sorted((core | shell) - {m[0] for m in mods if m}):
        problems.append(f"{crate_dir}: LAYERS lists {listed}, which is not a module (delete it)")
    return problems


def module_files(src):
    mods = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("mod",):
                parts = parts[:-1]
            if parts in (["lib"], ["main"]):
                parts = []
            elif parts and parts[0] == "bin":
                continue
            mods[tuple(parts)] = os.path.join(dirpath, f)
    return mods


def strip_noise(text):
    """Blanks comments, string and char literals, so paths in docs or texts are not read as
    imports, then drops a trailing unit-test module."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = len(re.match(r"r(#*)", text[i:]).group(1))
            end = text.find('"' + "#" * hashes, i + 2 + hashes)
            out.append('""')
            i = n if end < 0 else end + 1 + hashes
        elif c == "b" and text.startswith('b"', i) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            i += 1
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'":
            # A char literal ('x', '\n', '\u{..}', '"'), or a lifetime ('a).
            m = re.match(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'])'", text[i:])
            if m:
                out.append("' '")
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    text = "".join(out)
    m = re.search(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*mod\s+\w+\s*\{", text)
    if m:
        text = text[: m.start()]
    return text


def resolve(mods, here, kind, segments):
    if kind == "crate":
        base = ()
    elif kind == "super":
        base = here[:-1]
        while segments and segments[0] == "super":
            base = base[:-1]
            segments = segments[1:]
    else:
        base = here
    path = base + tuple(segments)
    # The deepest module file along the path.
    for n in range(len(path), -1, -1):
        if path[:n] in mods:
            return path[:n]
    return None


def deps_of(mods, here, text):
    out = set()
    # `use crate::{a::x, b::{y, z}}` groups: each top-level entry is a path.
    for m in USE_GROUP_RE.finditer(text):
        kind, body = m.group(1), m.group(2)
        depth = 0
        entry = ""
        for ch in body + ",":
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                segs = [s for s in re.split(r"::", entry.strip().split("{")[0]) if s]
                segs = [s.strip() for s in segs if s.strip() and s.strip() != "*"]
                target = resolve(mods, here, kind, tuple(segs))
                if target is not None:
                    out.add(target)
                entry = ""
            else:
                entry += ch
    for m in PATH_RE.finditer(text):
        kind, rest = m.group(1), m.group(2)
        segs = tuple(s for s in rest.split("::") if s and s != "{")
        target = resolve(mods, here, kind, segs)
        if target is not None:
            out.add(target)
    out.discard(here)
    # A module naming its own ancestor only to reach a child of that ancestor resolves to the
    # child; one naming the crate root (re-exports in lib.rs) depends on the root.
    return out


def sccs(graph):
    index, low, stack, on, result, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            result.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return result


def name(mod):
    return "::".join(mod) if mod else "<root>"


def check(crate_dir):
    src = os.path.join(crate_dir, "src")
    if not os.path.isdir(src):
        return []
    mods = module_files(src)
    graph, texts = {}, {}
    for mod, path in mods.items():
        with open(path, encoding="utf-8") as f:
            text = strip_noise(f.read())
        texts[mod] = text
        graph[mod] = deps_of(mods, mod, text)
    # The crate root only declares and re-exports; edges into it from below are the
    # re-exported items, which live in their own modules. Edges out of the root are `mod`
    # and `pub use`, which are not imports of behaviour. Leave the root out.
    graph.pop((), None)
    for mod, deps in graph.items():
        deps.discard(())
        # Likewise a module's own submodules are part of it (it declares and re-exports
        # them); their `super::` uses of it are ordinary, and a cycle needs a third module.
        for d in [d for d in deps if len(d) > len(mod) and d[: len(mod)] == mod]:
            deps.discard(d)
    problems, known = [], []
    crate = os.path.basename(os.path.normpath(crate_dir))
    problems.extend(layer_problems(crate_dir, crate, mods, graph, texts))
    for comp in sccs(graph):
        if len(comp) > 1:
            names = tuple(sorted(name(m) for m in comp))
            if (crate, names) in KNOWN:
                known.append((crate, names))
            else:
                problems.append(f"{crate_dir}: import cycle among {', '.join(names)}")
    return problems, known


def self_test():
    """The checker itself must see a cycle through `use` groups, inline paths and `super`,
    and must not see one through comments, strings or unit tests."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        crate = os.path.join(d, "demo")
        os.makedirs(os.path.join(crate, "src", "x"))
        files = {
            "lib.rs": "mod a; mod b; mod c; mod x;",
            "a.rs": "use crate::{b::f, c};\n",
            "b.rs": "pub fn f() { super::x::y::g() }\n",
            "x/mod.rs": "pub mod y;\n",
            "x/y.rs": "pub fn g() { let _ = crate::a::h; }\n",
            "c.rs": '// crate::a::h\nconst T: &str = "crate::a::h";\n'
            "#[cfg(test)]\nmod tests { use crate::a::h; }\n",
        }
        for rel, text in files.items():
            with open(os.path.join(crate, "src", rel), "w", encoding="utf-8") as f:
                f.write(text)
        problems, _ = check(crate)
        assert problems == [f"{crate}: import cycle among a, b, x::y"], problems

        # Layers: a core module naming a shell module or the OS clock fails, and so does a
        # module in neither list; test code and comments do not count.
        layered = os.path.join(d, "layered")
        os.makedirs(os.path.join(layered, "src"))
        files = {
            "lib.rs": "mod pipe; mod net; mod extra;",
            "pipe.rs": "use crate::net::serve;\nfn t() -> u64 { std::time::SystemTime::now(); 0 }\n"
            "// tokio::spawn\n#[cfg(test)]\nmod tests { use std::fs; }\n",
            "net.rs": "pub fn serve() { tokio::spawn(async {}); }\n",
            "extra.rs": "",
        }
        for rel, text in files.items():
            with open(os.path.join(layered, "src", rel), "w", encoding="utf-8") as f:
                f.write(text)
        LAYERS["layered"] = ({"pipe"}, {"net", "gone"})
        try:
            problems, _ = check(layered)
        finally:
            del LAYERS["layered"]
        assert problems == [
            f"{layered}: module extra is in neither the core nor the shell list (LAYERS)",
            f"{layered}: core module pipe names shell module net",
            f"{layered}: core module pipe uses SystemTime::now",
            f"{layered}: LAYERS lists gone, which is not a module (delete it)",
        ], problems
    print("check-import-cycles: self-test passed")


def main(argv):
    if argv == ["--self-test"]:
        self_test()
        return 0
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dirs = argv or sorted(
        [os.path.join(root, "crates", d) for d in os.listdir(os.path.join(root, "crates"))]
        + [os.path.join(root, "benches")]
    )
    problems, known = [], []
    for d in dirs:
        p, k = check(d)
        problems.extend(p)
        known.extend(k)
    for crate, names in sorted(known):
        print(f"check-import-cycles: known cycle in {crate}: {', '.join(names)}")
    if not argv:
        for crate, names in sorted(KNOWN - set(known)):
            problems.append(f"KNOWN entry no longer a cycle, delete it: {crate}: {', '.join(names)}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print(
        f"check-import-cycles: {len(dirs)} crates, no module import cycles; "
        f"layers hold in {', '.join(sorted(LAYERS))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
