"""The curator secret: stored only as a sha256 hash in settings, compared in constant time.

No Streamlit import here, so the CLI (`aisec-radar curator-secret`) can share it cheaply.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def hash_secret(secret: str) -> str:
    """The value to put in settings.curator_secret_hash (hex sha256 of the UTF-8 secret)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_secret(secret: str, configured_hash: str) -> bool:
    """True when ``secret`` hashes to the configured hash; constant time in the secret's content."""
    if not configured_hash or not secret:
        return False
    return hmac.compare_digest(hash_secret(secret), configured_hash.strip().lower())


def new_secret() -> str:
    """A random secret for curators who do not want to invent one."""
    return secrets.token_urlsafe(18)
