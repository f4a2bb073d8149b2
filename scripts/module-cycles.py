#!/usr/bin/env python3
"""Prints the import cycles between the modules of each crate given (edges: `crate::a::b` and
`super::x` references in its files) and exits non-zero if any crate has one.

Usage: scripts/module-cycles.py runtime/src host/node/src ...
"""
import os
import re
import sys


def modules(root):
    mods = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not name.endswith('.rs'):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)[:-3]
            if rel.endswith('/mod'):
                rel = rel[:-4]
            if rel in ('lib', 'main'):
                continue
            with open(path) as f:
                mods[rel.replace('/', '::')] = re.sub(r'//[^\n]*', '', f.read())
    return mods


def edges(mods):
    out = {m: set() for m in mods}
    for m, src in mods.items():
        for ref in re.findall(r'crate::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)', src):
            parts = ref.split('::')
            for i in range(len(parts), 0, -1):
                cand = '::'.join(parts[:i])
                if cand in mods and cand != m and not m.startswith(cand + '::'):
                    out[m].add(cand)
                    break
        parent = '::'.join(m.split('::')[:-1])
        for ref in re.findall(r'\bsuper::([a-z_][a-z0-9_]*)', src):
            cand = f'{parent}::{ref}' if parent else ref
            if cand in mods and cand != m:
                out[m].add(cand)
    return out


def cycles(graph):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return found


failed = False
for root in sys.argv[1:]:
    mods = modules(root)
    found = cycles(edges(mods))
    for c in found:
        print(f'{root}: cycle: ' + ' <-> '.join(c))
    failed |= bool(found)
sys.exit(1 if failed else 0)
