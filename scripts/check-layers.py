#!/usr/bin/env python3
"""Checks the service's layer rules on every `crate::` path in api/src (imports and qualified
uses alike): a layer names only the layers below it.

    kernel  -> (nothing of ours)
    graphql -> kernel
    domain  -> kernel, graphql
    http    -> kernel, graphql, domain

The crate root (configuration, start-up, telemetry) may name any layer. Code inside a layer
names others by their canonical paths (`crate::kernel::ids`), never through the crate root's
re-exports, which exist for the binary, the seed crate and the tests. Exits 1 on a violation,
listing each with its file and line.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "api" / "src"
LAYERS = ["kernel", "graphql", "domain", "http"]
ALLOWED = {
    "kernel": set(),
    "graphql": {"kernel"},
    "domain": {"kernel", "graphql"},
    "http": {"kernel", "graphql", "domain"},
}
# Exported macros live at the crate root by Rust's rules.
MACROS = {"record_meta", "payload", "record_table", "__text_api", "new_record"}
PATH = re.compile(r"\$?crate::(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")


def names(path_head: str) -> list[str]:
    if path_head.startswith("{"):
        return [
            p.strip().split("::")[0].strip("{} ")
            for p in path_head[1:].split(",")
            if p.strip().strip("{} ")
        ]
    return [path_head]


def main() -> int:
    problems = []
    for file in sorted(ROOT.rglob("*.rs")):
        relative = file.relative_to(ROOT)
        layer = relative.parts[0] if len(relative.parts) > 1 else None
        if layer not in LAYERS:
            continue
        for number, line in enumerate(file.read_text().splitlines(), 1):
            code = line.split("//")[0]
            for match in PATH.finditer(code):
                for name in names(match.group(1)):
                    if name in MACROS or name == layer:
                        continue
                    if name not in LAYERS:
                        problems.append(
                            f"{relative}:{number}: `crate::{name}` is not a layer: "
                            f"name it by its canonical path"
                        )
                    elif name not in ALLOWED[layer]:
                        problems.append(
                            f"{relative}:{number}: {layer} must not use {name} (`{line.strip()}`)"
                        )
    for problem in problems:
        print(problem)
    print(f"layer rules: {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
