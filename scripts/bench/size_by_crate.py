#!/usr/bin/env python3
"""Where a binary's bytes go: section sizes, and code (text symbols) attributed to crates.

Needs an unstripped build of the same code (the workspace release profile strips), e.g.

    CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR=/work/target-size \\
        cargo build --release -p consent-api
    python3 scripts/bench/size_by_crate.py /work/target-size/release/consent-api

Attribution is approximate (as with cargo-bloat): each function symbol goes to the first path
segment of its demangled name (`<aws_smithy_runtime::X as tower::Service>::call` counts for
`aws_smithy_runtime`); C code (aws-lc, SQLite, zstd) has unmangled names and is listed by
symbol prefix. Uses binutils `nm` and `size`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

SEGMENT = re.compile(r"^[<&*\s]*(?:(?:mut|dyn|const|impl)\s+)*([A-Za-z_][A-Za-z0-9_]*)")


def crate_of(name: str) -> str:
    if "::" not in name:
        # C symbols: group by their conventional prefix (aws_lc_0_xx_..., sqlite3..., ZSTD_...).
        if name.startswith("aws_lc_") or name.startswith("bcm_"):
            return "[C] aws-lc"
        if name.lower().startswith("sqlite3"):
            return "[C] sqlite"
        return "[C/other]"
    m = SEGMENT.match(name)
    return m.group(1) if m else "[other]"


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    sections = subprocess.run(["size", "-A", binary], capture_output=True, text=True, check=True)
    print("| section | bytes |\n|---|---:|")
    for line in sections.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit() and int(parts[1]) > 50_000:
            print(f"| {parts[0]} | {int(parts[1]):,} |")
    nm = subprocess.run(["nm", "-C", "-S", "--size-sort", binary],
                        capture_output=True, text=True, check=True)
    by_crate: Counter[str] = Counter()
    total = 0
    for line in nm.stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4 or parts[2] not in "tTwW":
            continue
        size = int(parts[1], 16)
        total += size
        by_crate[crate_of(parts[3])] += size
    print(f"\ncode in function symbols: {total:,} bytes\n")
    print("| crate | code bytes | share |\n|---|---:|---:|")
    for crate, size in by_crate.most_common(top):
        print(f"| {crate} | {size:,} | {100 * size / max(total, 1):.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
