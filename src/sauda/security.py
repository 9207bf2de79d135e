"""Password hashing (Argon2), JWTs (python-jose, algorithm pinned to HS256), field encryption."""

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from jose import JWTError, jwt

from sauda.config import AuthSettings
from sauda.errors import NotAuthenticated, SaudaError
from sauda.types import INT32_MAX

JWT_ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]

_hasher = PasswordHasher()
# Verified against when the account does not exist, so timing does not reveal which emails exist.
_DUMMY_HASH = _hasher.hash("sauda-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, *, min_length: int, email: str = "") -> str | None:
    """Why a password is too weak, or None when it is acceptable."""
    if len(password) < min_length:
        return f"must be at least {min_length} characters long"
    if password.isdigit() or password.isalpha():
        return "must mix letters with digits or symbols"
    if len(set(password)) < 5:
        return "uses too few distinct characters"
    local_part = email.split("@", 1)[0].lower()
    if local_part and len(local_part) >= 4 and local_part in password.lower():
        return "must not contain the email address"
    return None


def encode_token(
    *, secret: str, subject: str, token_type: TokenType, ttl: timedelta, **claims: Any
) -> tuple[str, str, datetime]:
    """Returns (token, jti, expires_at)."""
    now = datetime.now(UTC)
    expires_at = now + ttl
    jti = uuid.uuid4().hex
    payload = {"sub": subject, "type": token_type, "jti": jti, "iat": now, "exp": expires_at}
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM), jti, expires_at


# Every token Sauda issues carries these; one without them (say, one that never expires) is
# not Sauda's, even when it is signed with the right key.
_REQUIRED_CLAIMS = {"require_exp": True, "require_iat": True, "require_sub": True, "require_jti": True}


def decode_token(token: str, *, secret: str, token_type: TokenType) -> dict[str, Any]:
    """The claims of a valid token; `sub` is checked to be a user id (an int, as issued)."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[JWT_ALGORITHM], options=_REQUIRED_CLAIMS
        )
    except JWTError as exc:
        raise NotAuthenticated("Invalid or expired token") from exc
    sub, jti = payload.get("sub"), payload.get("jti")
    if payload.get("type") != token_type or not _is_user_id(sub) or not isinstance(jti, str):
        raise NotAuthenticated(f"Not a valid {token_type} token")
    payload["sub"] = int(sub)  # type: ignore[arg-type]
    return payload


def _is_user_id(sub: object) -> bool:
    return isinstance(sub, str) and sub.isascii() and sub.isdigit() and 1 <= int(sub) <= INT32_MAX


class UndecryptableField(SaudaError):
    status_code = 500
    code = "undecryptable"


def field_cipher(settings: AuthSettings) -> Fernet:
    """The cipher of secrets at rest: the configured Fernet key, else one derived from secret_key."""
    if settings.encryption_key is not None:
        return Fernet(settings.encryption_key.get_secret_value().encode())
    digest = hashlib.sha256(b"sauda-field-encryption:" + settings.secret_key.get_secret_value().encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def encrypt_field(settings: AuthSettings, plaintext: str) -> str:
    return field_cipher(settings).encrypt(plaintext.encode()).decode()


def decrypt_field(settings: AuthSettings, token: str) -> str:
    try:
        return field_cipher(settings).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise UndecryptableField("A stored secret cannot be decrypted (was the key changed?)") from exc
