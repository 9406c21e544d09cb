"""The vault's Merkle log: RFC 9162 tree hashing, inclusion and consistency proofs (R14).

Every sealed segment (and every retention record) is one leaf. A leaf hash is
``SHA-256(0x00 || data)`` and an interior node ``SHA-256(0x01 || left || right)``;
the tree over ``n`` leaves splits at the largest power of two smaller than ``n``
(RFC 9162 §2.1.1), so trees of any size are defined. Proof generation follows the
recursive definitions of §2.1.3.1 (PATH) and §2.1.4.1 (SUBPROOF); verification
follows the iterative algorithms of §2.1.3.2 and §2.1.4.2 literally, so that a
verifier written from the RFC alone agrees with this one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from kizuki.errors import KizukiError

HASH_SIZE = 32
#: MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(KizukiError):
    """A Merkle proof does not verify, or cannot be built for the requested sizes."""


def leaf_hash(data: bytes) -> bytes:
    """Hash one leaf's data with the 0x00 domain-separation prefix."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two children with the 0x01 domain-separation prefix."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n`` >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf *hashes* (not leaf data), for any size."""
    return _mth(leaves, 0, len(leaves))


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[lo]
    k = _split(n)
    return node_hash(_mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


def prefix_roots(leaves: Iterable[bytes]) -> list[bytes]:
    """Roots of every prefix of the log: ``out[i]`` is MTH of the first ``i`` leaves.

    One pass with a compact range (a stack of perfect subtrees), so checking every
    stored checkpoint costs O(n log n) instead of one full tree per checkpoint.
    """
    out = [EMPTY_ROOT]
    stack: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes strictly decreasing
    for leaf in leaves:
        size, h = 1, leaf
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            h = node_hash(left, h)
            size += left_size
        stack.append((size, h))
        # The root folds the perfect subtrees from the right (RFC 9162 split rule).
        acc = stack[-1][1]
        for _, left in reversed(stack[:-1]):
            acc = node_hash(left, acc)
        out.append(acc)
    return out


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """PATH(index, D[0:size]): the audit path proving leaf ``index`` is in the tree."""
    n = len(leaves) if size is None else size
    if not 0 <= index < n <= len(leaves):
        raise ProofError(f"no inclusion proof for leaf {index} in a tree of size {n}")
    return _path(leaves, index, 0, n)


def _path(leaves: Sequence[bytes], m: int, lo: int, hi: int) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(leaves, m, lo, lo + k), _mth(leaves, lo + k, hi)]
    return [*_path(leaves, m - k, lo + k, hi), _mth(leaves, lo, lo + k)]


def consistency_proof(
    leaves: Sequence[bytes], old_size: int, new_size: int | None = None
) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]): shows the first tree is a prefix of the second."""
    n = len(leaves) if new_size is None else new_size
    if not 0 <= old_size <= n <= len(leaves):
        raise ProofError(f"no consistency proof from size {old_size} to size {n}")
    if old_size in (0, n):
        return []
    return _subproof(leaves, old_size, 0, n, True)


def _subproof(leaves: Sequence[bytes], m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if whole else [_mth(leaves, lo, hi)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves, m, lo, lo + k, whole), _mth(leaves, lo + k, hi)]
    return [*_subproof(leaves, m - k, lo + k, hi, False), _mth(leaves, lo, lo + k)]


def _check_sizes(hashes: Iterable[bytes]) -> None:
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise ProofError(f"proof element {i} is {len(h)} bytes, expected {HASH_SIZE}")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an inclusion proof (RFC 9162 §2.1.3.2); raise ``ProofError`` if it fails."""
    _check_sizes([leaf, root, *proof])
    if index >= size or index < 0:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check a consistency proof (RFC 9162 §2.1.4.2); raise ``ProofError`` if it fails."""
    _check_sizes(proof)
    if old_size < 0 or new_size < old_size:
        raise ProofError(f"size {new_size} cannot follow size {old_size} (log went back)")
    if old_size == new_size:
        if proof:
            raise ProofError("equal sizes need an empty consistency proof")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same size {old_size}")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    _check_sizes([old_root, new_root])
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than expected")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than expected")
    if fr != old_root:
        raise ProofError(f"consistency proof does not reproduce the old root (size {old_size})")
    if sr != new_root:
        raise ProofError(f"consistency proof does not reproduce the new root (size {new_size})")
