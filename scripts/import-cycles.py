#!/usr/bin/env python3
"""Import cycles among a crate's modules: every `crate::a::b...` path a file names (in
`use` lines and inline), resolved to the deepest module that exists. Usage:
`scripts/import-cycles.py [src dir] [depth]`; depth 1 compares top-level modules only."""
import os, re, sys, itertools
root = sys.argv[1] if len(sys.argv) > 1 else "crates/domain/src"
depth = int(sys.argv[2]) if len(sys.argv) > 2 else 99
mods = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith(".rs"): continue
        p = os.path.relpath(os.path.join(d, f), root)[:-3].split(os.sep)
        if p[-1] in ("mod", "lib"): p = p[:-1]
        if p and p[-1] == "tests": continue  # test modules
        mods[tuple(p)] = os.path.join(d, f)
def resolve(path):
    for n in range(len(path), 0, -1):
        if tuple(path[:n]) in mods: return tuple(path[:n])
    return None
def expand(text):
    # crate::a::{b::{c, d}, e} -> crate::a::b::c, crate::a::b::d, crate::a::e
    out = []
    for m in re.finditer(r"crate::((?:\w+::)*)(\{|\w+)", text):
        prefix = m.group(1).split("::")[:-1]
        if m.group(2) == "{":
            i = m.end(); lvl = 1; j = i
            while lvl: 
                lvl += {"{":1, "}":-1}.get(text[j], 0); j += 1
            inner = text[i:j-1]
            for part in re.split(r",(?![^{]*\})", inner):
                part = part.strip()
                if part: out += [prefix + q.split("::") for q in re.findall(r"[\w:]+", part.replace("{"," ").replace("}"," "))[:1]]
        else:
            out.append(prefix + [m.group(2)])
    return out
edges = set()
for m, f in mods.items():
    src = open(f).read()
    src = re.split(r"#\[cfg\(test\)\]\s*mod tests", src)[0]
    for path in expand(src):
        t = resolve(path)
        if t is None: continue
        a, b = m[:depth], t[:depth]
        if a != b and a and b: edges.add((a, b))
pairs = sorted({tuple(sorted((a, b))) for a, b in edges if (b, a) in edges})
for a, b in pairs: print("cycle:", "::".join(a), "<->", "::".join(b))
# longer cycles: strongly connected components
import collections
g = collections.defaultdict(set)
for a, b in edges: g[a].add(b)
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in g[v]:
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
sys.setrecursionlimit(10000)
for v in list(g): 
    if v not in idx: sc(v)
for comp in sccs: print("cycle group:", ", ".join(sorted("::".join(x) for x in comp)))
print(f"{len(pairs)} two-module cycles, {len(sccs)} cycle groups, {len(edges)} edges, {len(mods)} modules")
