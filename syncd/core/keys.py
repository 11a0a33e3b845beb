"""Zotero item keys derived from the article, so that every syncd process agrees on them.

A new item's key is chosen before it is sent (and recorded as pending), so that a repeated POST
of the same article, whether a retry after a lost response, a rerun after a crash or a second
syncd process, names the same key and the server answers "exists" (a per-object 412) instead
of creating a second item. The key must therefore be a pure function of the library and the
article's identity (``pmid:123``, else ``doi:...``, else the fingerprint).

:func:`item_key` hashes them with SHA-256 and reads 8 characters of Zotero's key alphabet out of
the digest. ``attempt`` picks another key for the same identity, used in the rare case that the
derived key is already taken by a different item.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

ALPHABET = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
KEY_LENGTH = 8
KEY_PATTERN = re.compile(rf"^[{ALPHABET}]{{{KEY_LENGTH}}}$")


# Pure and asked again for the same article by the plan, the re-check and the memory of
# deleted keys; a small cache saves a third of the planning time of a large export.
@lru_cache(maxsize=4096)
def item_key(library: str, identity: str, attempt: int = 0) -> str:
    """The 8-character item key for ``identity`` in ``library`` (``users/1``, ``groups/2``).

    33 ** 8 (about 1.4e12) keys: the chance that two of 100,000 articles share one is about
    0.4 %, which is why the caller checks a key against the library before using it and moves
    to the next ``attempt`` when it belongs to another article.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    seed = f"syncd-item-key\x00{library}\x00{identity}\x00{attempt}".encode()
    # 256 bits read as one integer, then 8 base-33 digits: the bias of taking a 256-bit number
    # modulo 33**8 is below 2**-200, i.e. none.
    n = int.from_bytes(hashlib.sha256(seed).digest(), "big")
    chars = []
    for _ in range(KEY_LENGTH):
        n, r = divmod(n, len(ALPHABET))
        chars.append(ALPHABET[r])
    return "".join(chars)


def digest_key(*parts: str) -> str:
    """A deterministic 8-character object key for ``parts``: 8 bytes of their SHA-256, each
    read modulo 32 into the alphabet. (256 is a multiple of 32, so ``byte % 32`` is uniform;
    the alphabet's 33rd letter is simply never used.) Another algorithm than :func:`item_key`'s,
    and just as fixed: collections made by older syncd versions carry these keys."""
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return "".join(ALPHABET[b % 32] for b in digest[:8])


def collection_key(library: str, parent: str, name: str) -> str:
    """The key of the collection ``name`` under ``parent`` ("" at the top) in ``library``, so
    that two syncd processes creating the same collection at once agree on its key."""
    return digest_key("collection", library, parent, name)


def is_item_key(value: str) -> bool:
    """Whether ``value`` has the shape of a Zotero object key."""
    return bool(KEY_PATTERN.match(value))
