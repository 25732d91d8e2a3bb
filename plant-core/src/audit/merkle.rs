//! The Merkle tree over the audit chain: RFC 9162 (RFC 6962) hashing, proofs and their checks.
//!
//! Leaf `i` (from 0) is the audit entry with seq `i + 1`; its leaf data is that entry's 32-byte
//! link hash, so a leaf hash is `SHA-256(0x00 || link hash)` and an interior node is
//! `SHA-256(0x01 || left || right)`. The root of the empty tree is `SHA-256("")`.
//!
//! [`MerkleTree`] keeps the hash of every complete subtree (a perfect binary tree of `2^k`
//! leaves starting at a multiple of `2^k`), level by level, and extends them as leaves are
//! appended: an append costs one leaf hash plus one node hash per level it completes (two
//! hashes on average), and any root or proof needs `O(log n)` stored hashes and at most
//! `O(log n)` new node hashes. Memory is about `2 × 32` bytes per leaf (64 MB for a million
//! entries).
//!
//! The free functions [`verify_inclusion`] and [`verify_consistency`] are the RFC 9162
//! §2.1.3.2 and §2.1.4.2 checks; they need nothing but the hashes, so a client that holds a
//! signed checkpoint can check one entry, or that a later tree extends an earlier one.

use sha2::{Digest, Sha256};

use super::hash::Hash;

/// The hash of a leaf whose data is `data`: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// The largest power of two strictly below `n` (`n >= 2`): where RFC 9162 splits a range.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The root of a tree over `leaves` (leaf hashes) by RFC 9162's recursive definition, without
/// keeping anything: the reference [`MerkleTree`] is tested against.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// Why a proof cannot be made for the requested sizes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size asked for.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("tree size {from} is larger than tree size {to}")]
    SizesReversed {
        /// The first (older) size.
        from: u64,
        /// The second (newer) size.
        to: u64,
    },
    /// The tree has fewer leaves than the size asked for.
    #[error("tree size {size} is beyond the {len} leaves the tree holds")]
    BeyondTree {
        /// The size asked for.
        size: u64,
        /// The leaves held.
        len: u64,
    },
}

/// An append-only Merkle tree that keeps the hash of every complete subtree (see the
/// [module documentation](self)).
///
/// ```
/// use plant_core::audit::{MerkleTree, leaf_hash, verify_inclusion, verify_consistency};
///
/// let mut tree = MerkleTree::new();
/// for i in 0u8..7 {
///     tree.push_leaf_data(&[i; 32]);
/// }
/// let root = tree.root();
/// let proof = tree.inclusion_proof(3, 7).unwrap();
/// assert!(verify_inclusion(&leaf_hash(&[3; 32]), 3, 7, &proof, &root));
///
/// let old_root = tree.root_at(4).unwrap();
/// let proof = tree.consistency_proof(4, 7).unwrap();
/// assert!(verify_consistency(4, 7, &old_root, &root, &proof));
/// ```
#[derive(Debug, Clone, Default)]
pub struct MerkleTree {
    /// `levels[k][i]` is the hash of the complete subtree over leaves `i·2^k .. (i+1)·2^k`.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree over leaves with these data, in order.
    pub fn from_leaf_data<'a>(data: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut tree = Self::new();
        for d in data {
            tree.push_leaf_data(d);
        }
        tree
    }

    /// How many leaves the tree holds.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// True for the empty tree.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a leaf whose data is `data` (for the audit log: an entry's link hash).
    pub fn push_leaf_data(&mut self, data: &[u8]) {
        self.push_leaf_hash(leaf_hash(data));
    }

    /// Appends a leaf by its leaf hash, completing every subtree it closes.
    pub fn push_leaf_hash(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            if row.len() % 2 == 1 {
                return;
            }
            hash = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }

    /// The hash of leaf `index`.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels
            .first()
            .and_then(|l| l.get(usize::try_from(index).ok()?))
            .copied()
    }

    /// The root over all leaves.
    pub fn root(&self) -> Hash {
        self.subtree(0, self.len())
    }

    /// The root of the tree's first `size` leaves: the tree as it was at that size.
    pub fn root_at(&self, size: u64) -> Result<Hash, TreeError> {
        self.check_size(size)?;
        Ok(self.subtree(0, size))
    }

    /// The RFC 9162 audit path of leaf `index` in the tree of the first `size` leaves, from the
    /// leaf's sibling up.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        self.check_size(size)?;
        if index >= size {
            return Err(TreeError::IndexOutOfRange { index, size });
        }
        let mut path = Vec::new();
        self.path(index, 0, size, &mut path);
        Ok(path)
    }

    /// The RFC 9162 consistency proof between the trees of the first `from` and the first `to`
    /// leaves. Empty when `from` is 0 or equals `to`.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, TreeError> {
        self.check_size(to)?;
        if from > to {
            return Err(TreeError::SizesReversed { from, to });
        }
        let mut proof = Vec::new();
        if from > 0 && from < to {
            self.subproof(from, 0, to, true, &mut proof);
        }
        Ok(proof)
    }

    fn check_size(&self, size: u64) -> Result<(), TreeError> {
        if size > self.len() {
            return Err(TreeError::BeyondTree {
                size,
                len: self.len(),
            });
        }
        Ok(())
    }

    /// MTH(D[start..end]) for a range RFC 9162's recursion visits (`end <= len`).
    fn subtree(&self, start: u64, end: u64) -> Hash {
        let n = end - start;
        if n == 0 {
            return empty_root();
        }
        if n.is_power_of_two() && start.is_multiple_of(n) {
            let level = n.trailing_zeros() as usize;
            if let Some(hash) = self
                .levels
                .get(level)
                .and_then(|row| row.get((start >> level) as usize))
            {
                return *hash;
            }
        }
        let k = split(n);
        node_hash(
            &self.subtree(start, start + k),
            &self.subtree(start + k, end),
        )
    }

    /// PATH(m, D[start..end]) with `m` relative to `start` (RFC 9162 §2.1.3.1).
    fn path(&self, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            self.path(m, start, start + k, out);
            out.push(self.subtree(start + k, end));
        } else {
            self.path(m - k, start + k, end, out);
            out.push(self.subtree(start, start + k));
        }
    }

    /// SUBPROOF(m, D[start..end], b) (RFC 9162 §2.1.4.1).
    fn subproof(&self, m: u64, start: u64, end: u64, whole: bool, out: &mut Vec<Hash>) {
        let n = end - start;
        if m == n {
            if !whole {
                out.push(self.subtree(start, end));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, start, start + k, whole, out);
            out.push(self.subtree(start + k, end));
        } else {
            self.subproof(m - k, start + k, end, false, out);
            out.push(self.subtree(start, start + k));
        }
    }
}

/// Checks an RFC 9162 inclusion proof (§2.1.3.2): that `leaf` is leaf `index` of the tree of
/// `size` leaves whose root is `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// Checks an RFC 9162 consistency proof (§2.1.4.2): that the tree of `to` leaves with root
/// `to_root` extends the tree of `from` leaves with root `from_root`.
///
/// `from == to` needs an empty proof and equal roots; `from == 0` needs an empty proof (every
/// tree extends the empty one).
pub fn verify_consistency(
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    proof: &[Hash],
) -> bool {
    if from > to {
        return false;
    }
    if from == to {
        return proof.is_empty() && from_root == to_root;
    }
    if from == 0 {
        return proof.is_empty();
    }
    let mut path = proof.iter();
    let seed = if from.is_power_of_two() {
        *from_root
    } else {
        match path.next() {
            Some(first) => *first,
            None => return false,
        }
    };
    let (mut fnode, mut snode) = (from - 1, to - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in path {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && fr == *from_root && sr == *to_root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn tree(n: u64) -> MerkleTree {
        let mut t = MerkleTree::new();
        for l in leaves(n) {
            t.push_leaf_hash(l);
        }
        t
    }

    #[test]
    fn the_empty_tree_and_one_leaf_follow_rfc_9162() {
        assert_eq!(
            MerkleTree::new().root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let t = MerkleTree::from_leaf_data([b"".as_slice()]);
        // SHA-256 of the single byte 0x00.
        assert_eq!(
            t.root().to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn stored_subtrees_give_the_recursive_root_at_every_size() {
        let all = leaves(300);
        let t = tree(300);
        for size in 0..=300u64 {
            assert_eq!(
                t.root_at(size).expect("within the tree"),
                root_of(&all[..size as usize]),
                "size {size}"
            );
        }
        assert_eq!(
            t.root_at(301),
            Err(TreeError::BeyondTree {
                size: 301,
                len: 300
            })
        );
    }

    #[test]
    fn out_of_range_requests_are_refused() {
        let t = tree(10);
        assert_eq!(
            t.inclusion_proof(10, 10),
            Err(TreeError::IndexOutOfRange {
                index: 10,
                size: 10
            })
        );
        assert_eq!(
            t.consistency_proof(5, 4),
            Err(TreeError::SizesReversed { from: 5, to: 4 })
        );
        assert_eq!(t.consistency_proof(0, 10), Ok(Vec::new()));
        assert_eq!(t.consistency_proof(10, 10), Ok(Vec::new()));
        assert!(!verify_inclusion(&t.root(), 0, 0, &[], &t.root()));
    }

    #[test]
    fn proof_lengths_are_logarithmic() {
        let t = tree(1000);
        for i in [0, 1, 511, 512, 999] {
            assert!(t.inclusion_proof(i, 1000).expect("in range").len() <= 10);
        }
        assert!(t.consistency_proof(1, 1000).expect("in range").len() <= 11);
    }
}
