"""Subscription secrets: generated, shown once, kept encrypted, used to sign."""
from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "whsec_"


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (the Standard Webhooks format)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def encrypt(secret: str, key: bytes) -> str:
    return Fernet(key).encrypt(secret.encode()).decode()


def decrypt(token: str, key: bytes) -> str:
    """Raises ValueError when the key is not the one the secret was stored with."""
    try:
        return Fernet(key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("webhook secret cannot be decrypted: webhook.secret_key changed") from None


KEY_FILE = "webhook-secret.key"  # in the data folder, when webhook.secret_key is not set


def load_or_create_key(configured: str, data_dir: str) -> bytes:
    """The configured Fernet key, or one generated once into <data_dir>/webhook-secret.key
    (readable by the owner only)."""
    if configured:
        return configured.encode()
    path = Path(data_dir) / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    key = Fernet.generate_key()
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key)
        out.flush()
        os.fsync(out.fileno())
    try:
        os.link(temporary, path)  # atomic: exactly one process's key wins
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_bytes().strip()
