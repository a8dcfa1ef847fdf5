"""Opaque pagination cursors: the last id of a page, sealed with a truncated HMAC.

Format (shared byte for byte with go-gin/cursor.go): base64url without padding of
8 bytes big-endian id followed by the first 8 bytes of HMAC-SHA256(key, those 8 bytes).
The tag makes a tampered or invented cursor detectable, so only ids this API handed
out ever reach SQL, and always as a bound integer parameter.
"""

import base64
import binascii
import hashlib
import hmac
import struct

_ID = struct.Struct(">Q")
_TAG_BYTES = 8
_TOKEN_CHARS = 22  # 16 raw bytes in unpadded base64
_MAX_ID = 2**63 - 1  # PostgreSQL bigint


class InvalidCursorError(ValueError):
    """The token was not made by this API with this key."""


def _tag(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_TAG_BYTES]


def encode_cursor(last_id: int, key: bytes) -> str:
    payload = _ID.pack(last_id)
    return base64.urlsafe_b64encode(payload + _tag(key, payload)).rstrip(b"=").decode("ascii")


def decode_cursor(token: str, key: bytes) -> int:
    if len(token) != _TOKEN_CHARS or not token.isascii():
        raise InvalidCursorError(token)
    try:
        raw = base64.b64decode(token + "==", altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise InvalidCursorError(token) from exc
    # Reject non-canonical spellings (stray low bits in the last character) so one id
    # has exactly one cursor, as Go's strict decoder does.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        raise InvalidCursorError(token)
    payload, tag = raw[: _ID.size], raw[_ID.size :]
    if not hmac.compare_digest(tag, _tag(key, payload)):
        raise InvalidCursorError(token)
    last_id: int = _ID.unpack(payload)[0]
    if not 1 <= last_id <= _MAX_ID:
        raise InvalidCursorError(token)
    return last_id
