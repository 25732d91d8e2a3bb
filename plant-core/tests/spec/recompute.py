"""Recomputes plant's audit chain and Merkle tree from docs/transparency.md alone.

Reads a JSON document on standard input, {"entries": [...], "checkpoint": "<note>"} with the
entries as `plant-cli export` writes them, and writes {"hashes": [...], "roots": [...],
"checkpoint": {...}} on standard output: every link hash recomputed from the entry's fields, the
tree root at every size 0..n, and the checkpoint body's fields. Exits 1 (naming the seq) when a
stored hash or prev_hash disagrees. Standard library only.
"""

import base64
import hashlib
import json
import re
import sys
import uuid

LINK_DOMAIN = b"plant-audit-v1\n"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def prefixed(text):
    data = text.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def link_hash(e, prev_hash):
    if not TIMESTAMP.match(e["at"]):
        raise ValueError(f"seq {e['seq']}: timestamp {e['at']!r} is not in the one format")
    h = hashlib.sha256()
    h.update(LINK_DOMAIN)
    h.update(e["seq"].to_bytes(8, "big"))
    h.update(prev_hash)
    h.update(hashlib.sha256(e["payload"].encode("utf-8")).digest())
    h.update(uuid.UUID(e["entity_id"]).bytes)
    h.update(prefixed(e["entity_type"]))
    h.update(e["entity_version"].to_bytes(8, "big"))
    h.update(prefixed(e["action"]))
    h.update(prefixed(e["actor"]))
    h.update(prefixed(e["at"]))
    return h.digest()


def leaf(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves):
    """MTH by RFC 9162's recursive definition."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node(root(leaves[:k]), root(leaves[k:]))


def main():
    doc = json.load(sys.stdin)
    prev = bytes(32)
    hashes, leaves = [], []
    for i, e in enumerate(doc["entries"]):
        if e["seq"] != i + 1:
            print(f"seq {i + 1}: found seq {e['seq']}", file=sys.stderr)
            return 1
        if bytes.fromhex(e["prev_hash"]) != prev:
            print(f"seq {e['seq']}: prev_hash mismatch", file=sys.stderr)
            return 1
        h = link_hash(e, prev)
        if h.hex() != e["hash"]:
            print(f"seq {e['seq']}: hash mismatch", file=sys.stderr)
            return 1
        hashes.append(h.hex())
        leaves.append(leaf(h))
        prev = h
    # Sizes up to 300 exactly by the recursion; beyond, every 97th size (the recursion is
    # quadratic in the depth of the loop, and the Rust side checks every size itself).
    sizes = [n for n in range(len(leaves) + 1) if n <= 300 or n % 97 == 0 or n == len(leaves)]
    roots = {str(n): root(leaves[:n]).hex() for n in sizes}
    out = {"hashes": hashes, "roots": roots}
    note = doc.get("checkpoint")
    if note:
        body = note[: note.rindex("\n\n") + 1]
        origin, size, root_b64 = body.split("\n")[:3]
        out["checkpoint"] = {
            "origin": origin,
            "size": int(size),
            "root": base64.b64decode(root_b64, validate=True).hex(),
        }
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
