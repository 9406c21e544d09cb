"""RFC 9162 Merkle log: the transparency-dev/merkle reference vectors and corrupted proofs (R14).

The vectors (leaves, roots, inclusion and consistency proofs) are the ones in
transparency-dev/merkle ``proof/verify_test.go``, which come from the RFC 6962 test
tree of eight leaves; the corruption probes mirror ``corruptInclusionProof`` and
``corruptConsistencyProof`` there.
"""

from __future__ import annotations

import pytest

from kizuki.vault.merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    prefix_roots,
    root_hash,
    verify_consistency,
    verify_inclusion,
)


def h(s: str) -> bytes:
    return bytes.fromhex(s)


LEAVES = [
    h(x)
    for x in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    h(x)
    for x in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
HASHES = [leaf_hash(x) for x in LEAVES]

# (leaf index 0-based, tree size, proof)
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def test_roots_of_every_prefix() -> None:
    assert root_hash([]) == EMPTY_ROOT
    for size in range(1, 9):
        assert root_hash(HASHES[:size]) == ROOTS[size - 1]
    assert prefix_roots(HASHES) == [EMPTY_ROOT, *ROOTS]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors_generate_and_verify(index: int, size: int, proof: list[str]) -> None:
    want = [h(p) for p in proof]
    assert inclusion_proof(HASHES, index, size) == want
    verify_inclusion(HASHES[index], index, size, want, ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_vectors_generate_and_verify(old: int, new: int, proof: list[str]) -> None:
    want = [h(p) for p in proof]
    assert consistency_proof(HASHES, old, new) == want
    verify_consistency(old, new, want, ROOTS[old - 1], ROOTS[new - 1])


def _flip(proof: list[bytes], i: int, bit: int) -> list[bytes]:
    out = list(proof)
    out[i] = bytes([out[i][0] ^ bit]) + out[i][1:]
    return out


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_corrupted_inclusion_proofs_are_rejected(index: int, size: int, proof: list[str]) -> None:
    p = [h(x) for x in proof]
    root, leaf = ROOTS[size - 1], HASHES[index]
    probes: list[tuple[str, int, int, bytes, bytes, list[bytes]]] = [
        ("index - 1", index - 1, size, leaf, root, p),
        ("index + 1", index + 1, size, leaf, root, p),
        ("index ^ 2", index ^ 2, size, leaf, root, p),
        ("size * 2", index, size * 2, leaf, root, p),
        ("size / 2", index, size // 2, leaf, root, p),
        ("wrong leaf", index, size, b"WrongLeaf", root, p),
        ("empty root", index, size, leaf, EMPTY_ROOT, p),
        ("random root", index, size, leaf, SOME_HASH, p),
        ("trailing garbage", index, size, leaf, root, [*p, b""]),
        ("trailing root", index, size, leaf, root, [*p, root]),
        ("preceding garbage", index, size, leaf, root, [b"", *p]),
        ("preceding root", index, size, leaf, root, [root, *p]),
        ("removed component", index, size, leaf, root, p[:-1]),
    ]
    probes += [(f"bit {i}", index, size, leaf, root, _flip(p, i, 8)) for i in range(len(p))]
    if len(p) > 1:
        probes.append(("inserted", index, size, leaf, root, [p[0], SOME_HASH, *p[1:]]))
    for desc, i, n, lf, rt, pr in probes:
        with pytest.raises(ProofError):
            verify_inclusion(lf, i, n, pr, rt)
            pytest.fail(f"accepted corrupted inclusion proof: {desc}")


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_corrupted_consistency_proofs_are_rejected(old: int, new: int, proof: list[str]) -> None:
    p = [h(x) for x in proof]
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    probes: list[tuple[str, int, int, bytes, bytes, list[bytes]]] = [
        ("old - 1", old - 1, new, r1, r2, p),
        ("old + 1", old + 1, new, r1, r2, p),
        ("old ^ 2", old ^ 2, new, r1, r2, p),
        ("new * 2", old, new * 2, r1, r2, p),
        ("new / 2", old, new // 2, r1, r2, p),
        ("wrong root1", old, new, b"WrongRoot", r2, p),
        ("wrong root2", old, new, r1, b"WrongRoot", p),
        ("swapped roots", old, new, r2, r1, p),
        ("empty proof", old, new, r1, r2, []),
        ("trailing garbage", old, new, r1, r2, [*p, b""]),
        ("trailing root1", old, new, r1, r2, [*p, r1]),
        ("trailing root2", old, new, r1, r2, [*p, r2]),
        ("preceding garbage", old, new, r1, r2, [b"", *p]),
        ("preceding root1", old, new, r1, r2, [r1, *p]),
        ("preceding root2", old, new, r1, r2, [r2, *p]),
        ("preceding proof[0]", old, new, r1, r2, [p[0], *p]),
        ("truncated", old, new, r1, r2, p[:-1]),
    ]
    probes += [(f"bit {i}", old, new, r1, r2, _flip(p, i, 16)) for i in range(len(p))]
    for desc, o, n, a, b, pr in probes:
        with pytest.raises(ProofError):
            verify_consistency(o, n, pr, a, b)
            pytest.fail(f"accepted corrupted consistency proof: {desc}")


def test_trivial_consistency_cases() -> None:
    r1, r2 = b"\x01" * 32, b"\x02" * 32
    verify_consistency(0, 0, [], r1, r1)
    verify_consistency(0, 1, [], r1, r2)
    verify_consistency(1, 1, [], r2, r2)
    for old, new, a, b, pr in [
        (1, 1, r1, r2, []),
        (1, 0, r1, r2, []),
        (2, 1, r1, r2, []),
        (1, 2, r1, r2, []),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
    ]:
        with pytest.raises(ProofError):
            verify_consistency(old, new, pr, a, b)


def test_single_leaf_inclusion() -> None:
    leaf = leaf_hash(b"data")
    verify_inclusion(leaf, 0, 1, [], leaf)
    for lf, rt in [(leaf, b""), (b"", leaf), (b"", b"")]:
        with pytest.raises(ProofError):
            verify_inclusion(lf, 0, 1, [], rt)
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        with pytest.raises(ProofError):
            verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


def test_every_proof_round_trips_for_small_trees() -> None:
    leaves = [leaf_hash(str(i).encode()) for i in range(33)]
    roots = prefix_roots(leaves)
    for n in range(1, len(leaves) + 1):
        assert roots[n] == root_hash(leaves[:n])
        for m in range(n):
            verify_inclusion(leaves[m], m, n, inclusion_proof(leaves, m, n), roots[n])
        for old in range(0, n + 1):
            verify_consistency(old, n, consistency_proof(leaves, old, n), roots[old], roots[n])
