"""Wraps a FlatBuffer payload (runtime/Artifact.fbs, e.g. from
`flatc -b Artifact.fbs FILE.json`) in an artifact header with the right
size and checksum, so that tests can hand the runtime payloads the
compiler never writes.

    make_artifact.py PAYLOAD.bin OUT.llmcx [VERSION]

VERSION is the header's format version (default 3; 4 for a payload with a
device mesh or shard axes).
"""

import struct
import sys


def fnv1a(data):
    h = 1469598103934665603
    for b in data:
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    payload = open(sys.argv[1], "rb").read()
    version = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    header = b"LLMCX\0\r\n" + struct.pack("<IIQQ", version, 0, len(payload),
                                            fnv1a(payload))
    open(sys.argv[2], "wb").write(header.ljust(64, b"\0") + payload)


if __name__ == "__main__":
    main()
