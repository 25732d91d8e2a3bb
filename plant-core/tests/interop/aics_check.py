"""Checks plant's tree, proofs and signed checkpoints with an independent C2SP implementation.

Run by plant-core/tests/transparency_interop.rs with the PyPI package `aics-tlog` (pinned there,
installed into .cache, never committed). Reads the JSON the test writes on standard input and
writes {"failures": [...], "note": "<checkpoint signed and cosigned by aics-tlog>"} on standard
output; every failure is one line saying what disagreed.
"""

import json
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import aics_tlog as t


def main():
    doc = json.load(sys.stdin)
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    leaves = [bytes.fromhex(h) for h in doc["leaves"]]
    tree = t.MerkleTree(leaves)
    for size, root in doc["roots"].items():
        check(tree.root(int(size)).hex() == root, f"root of size {size}")
    for p in doc["inclusion"]:
        index, size = p["index"], p["size"]
        path = [bytes.fromhex(h) for h in p["path"]]
        root = tree.root(size)
        check(
            t.verify_leaf_inclusion(leaves[index], index, size, path, root),
            f"inclusion of leaf {index} in size {size} does not verify",
        )
        check(tree.inclusion_proof(index, size) == path, f"inclusion path {index}/{size} differs")
    for p in doc["consistency"]:
        old, new = p["from"], p["to"]
        path = [bytes.fromhex(h) for h in p["path"]]
        check(
            t.verify_consistency(old, new, tree.root(old), tree.root(new), path),
            f"consistency {old}->{new} does not verify",
        )
        check(tree.consistency_proof(old, new) == path, f"consistency path {old}->{new} differs")

    log_key = t.parse_vkey(doc["log_vkey"])
    witness_key = t.parse_vkey(doc["witness_vkey"])
    result = t.verify_checkpoint(
        t.parse_note(doc["checkpoint"]), log_key, [witness_key], quorum=1
    )
    check(result.ok, f"checkpoint does not verify: {result.error}")
    check(result.size == len(leaves), "checkpoint size")
    check(result.root == tree.root(), "checkpoint root")
    check(result.cosignature_count == 1, "cosignature not counted")

    # The other direction: a checkpoint signed and cosigned here, for plant to verify.
    s = doc["sign"]
    log = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(s["log_seed"]))
    witness = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(s["witness_seed"]))
    check(
        t.format_vkey(t.vkey_from_ed25519(s["origin"], log.public_key())) == doc["log_vkey"],
        "log vkey differs",
    )
    check(
        t.format_vkey(t.cosignature_vkey(s["witness_name"], witness.public_key()))
        == doc["witness_vkey"],
        "witness vkey differs",
    )
    cp = t.Checkpoint(s["origin"], len(leaves), tree.root())
    note = t.sign_checkpoint(cp, log, s["origin"])
    _, cosig = t.sign_cosignature(
        witness, s["witness_name"], s["timestamp"], s["origin"], len(leaves), tree.root()
    )
    note = t.Note(text=note.text, signatures=(*note.signatures, cosig))
    json.dump({"failures": failures, "note": note.serialise()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
