"""python-hl7 side of benches/parse.rs: the same task on the same corpus.

Usage: python3 python_hl7_bench.py CORPUS_FILE PASSES
The corpus holds one message per line (segments separated by \r inside a line).
Prints one line: "<seconds of the best pass> <messages> <bytes> <checksum>".
"""
import sys
import time

import hl7


def task(text):
    m = hl7.parse(text)
    total = 0
    msh = m.segment("MSH")
    total += len(str(msh[9]))
    total += len(str(msh[10]))
    total += len(m["PID.F3.R1.C1"])
    total += len(m["PID.F5.R1.C1"])  # python-hl7 unescapes on extraction
    try:
        total += len(m["PV1.F3.R1.C1"])
    except KeyError:
        pass
    try:
        for obx in m.segments("OBX"):
            total += len(obx.extract_field(1, 3, 1, 1))
    except KeyError:
        pass
    return total


def main():
    path, passes = sys.argv[1], int(sys.argv[2])
    with open(path, "rb") as f:
        data = f.read()
    messages = data.decode("utf-8").split("\n")
    messages = [m for m in messages if m]
    size = sum(len(m.encode("utf-8")) for m in messages)
    best = None
    checksum = 0
    for _ in range(passes):
        start = time.perf_counter()
        checksum = 0
        for text in messages:
            checksum += task(text)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    print(f"{best} {len(messages)} {size} {checksum}")


if __name__ == "__main__":
    main()
