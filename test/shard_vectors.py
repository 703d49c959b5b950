#!/usr/bin/env python3
"""Test vectors for role_cluster.shard_for, computed without role_cluster's C.

The hash comes from the xxHash project's own command-line tool
(`xxhsum -H3`, Debian package "xxhash"), which prints XXH3_64bits with seed 0
of its input; the jump consistent hash is written here again in Python from
Lamping and Veach's description.  The output is the VALUES list that
sql/shard.sql checks shard_for() against, and the table of README.md's
"Sharding algorithm" section.

    python3 test/shard_vectors.py            # SQL VALUES rows
    python3 test/shard_vectors.py --markdown # the README table
"""
import subprocess
import sys

LCG_MULTIPLIER = 2862933555777941757
MASK64 = (1 << 64) - 1


def xxh3_64(data: bytes) -> int:
    """XXH3-64, seed 0, as computed by the xxhsum tool."""
    out = subprocess.run(["xxhsum", "-H3", "-"], input=data,
                         capture_output=True, check=True).stdout.decode()
    # "XXH3 (stdin) = 2d06800538d394c2"  (big-endian hex)
    return int(out.strip().rsplit("=", 1)[1].strip(), 16)


def jump(key: int, nbuckets: int) -> int:
    """Jump consistent hash: a bucket in 0..nbuckets-1.

    Python floats are IEEE-754 doubles, so the division and product below
    round exactly as C's double arithmetic does.
    """
    bucket, nxt = -1, 0
    while nxt < nbuckets:
        bucket = nxt
        key = (key * LCG_MULTIPLIER + 1) & MASK64
        nxt = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


def shard_for(subscriber: str, nshards: int) -> int:
    return jump(xxh3_64(subscriber.encode("utf-8")), nshards) + 1


# Keys of every length class XXH3 treats differently (0, 1-3, 4-8, 9-16,
# 17-128, 129-240, > 240 bytes), non-ASCII text and numbers.
KEYS = [
    "",
    "a",
    "42",
    "abc",
    "alice",
    "-9223372036854775808",
    "bob@example.com",
    "user:1234567890",
    "ünïcödé",
    "日本語のユーザー",
    "subscriber-000000000000000000000000000001",
    "x" * 128,
    "y" * 129,
    "z" * 240,
    "w" * 241,
    "The quick brown fox jumps over the lazy dog" * 25,
]
NSHARDS = [1, 2, 3, 7, 10, 64, 1000, 2147483647]


def sql_literal(s: str) -> str:
    if len(s) > 40 and len(set(s)) == 1:
        return "repeat('%s', %d)" % (s[0], len(s))
    if s.startswith("The quick"):
        return "repeat('The quick brown fox jumps over the lazy dog', 25)"
    return "'" + s.replace("'", "''") + "'"


def self_check() -> None:
    """Check both halves against values published by others.

    XXH3_64bits of the empty input is 2d06800538d394c2 (the xxHash
    project's own sanity value); the jump hash values are those of
    ClickHouse's jumpConsistentHash test (00580_consistent_hashing_functions),
    an implementation independent of this one.
    """
    assert xxh3_64(b"") == 0x2D06800538D394C2
    published = [((1, 1), 0), ((42, 57), 43), ((256, 1024), 520),
                 ((3735883980, 1), 0), ((3735883980, 666), 361),
                 ((16045690984833335023, 255), 237)]
    for (key, n), bucket in published:
        assert jump(key, n) == bucket, (key, n, jump(key, n), bucket)


def main() -> None:
    self_check()
    markdown = "--markdown" in sys.argv[1:]
    rows = []
    for k in KEYS:
        h = xxh3_64(k.encode("utf-8"))
        for n in NSHARDS:
            rows.append((k, h, n, jump(h, n) + 1))
    if markdown:
        shown_n = [1, 2, 3, 10, 64, 1000, 2147483647]
        print("| key | UTF-8 bytes | XXH3-64 | "
              + " | ".join("N=%d" % n for n in shown_n) + " |")
        print("|---|---:|---|" + "---:|" * len(shown_n))
        for k in KEYS:
            h = xxh3_64(k.encode("utf-8"))
            if len(k) > 40 and len(set(k)) == 1:
                shown = "`%s` x %d" % (k[0], len(k))
            elif k.startswith("The quick"):
                shown = "`The quick brown fox jumps over the lazy dog` x 25"
            else:
                shown = "`%s`" % k if k else "(empty)"
            print("| %s | %d | %016x | %s |"
                  % (shown, len(k.encode("utf-8")), h,
                     " | ".join(str(jump(h, n) + 1) for n in shown_n)))
        return
    print(",\n".join("\t(%s, %d, %d)" % (sql_literal(k), n, s)
                     for k, h, n, s in rows))


if __name__ == "__main__":
    main()
