"""The private key encrypted as PKCS#8 with a PBKDF2 count that makes guessing expensive.

cryptography's `BestAvailableEncryption` writes PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) with
only 2048 iterations and offers no way to raise them for PKCS#8 (its encryption builder is
for PKCS#12 and OpenSSH only). So the same standard structure is built here with
KEY_KDF_ROUNDS iterations; OpenSSL, cryptography and every PKCS#8 reader open it as before.
"""

from __future__ import annotations

import base64
import os

KEY_KDF_ROUNDS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256; about 0.1 s to open
SALT_BYTES = 16
AES_BLOCK_BYTES = 16

_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"
_HMAC_SHA256 = "1.2.840.113549.2.9"
_AES_256_CBC = "2.16.840.1.101.3.4.1.42"


def _der(tag: int, content: bytes) -> bytes:
    """One DER element: tag, definite length, content."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _sequence(*items: bytes) -> bytes:
    return _der(0x30, b"".join(items))


def _octets(data: bytes) -> bytes:
    return _der(0x04, data)


def _integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    encoded = bytearray([40 * first + second])
    for number in rest:
        chunk = [number & 0x7F]
        number >>= 7
        while number:
            chunk.append(0x80 | (number & 0x7F))
            number >>= 7
        encoded += bytes(reversed(chunk))
    return _der(0x06, bytes(encoded))


def encrypted_pkcs8_pem(private_key_info_der: bytes, passphrase: bytes) -> bytes:
    """An ENCRYPTED PRIVATE KEY PEM block for the unencrypted PKCS#8 DER `private_key_info_der`."""
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    salt, iv = os.urandom(SALT_BYTES), os.urandom(AES_BLOCK_BYTES)
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, KEY_KDF_ROUNDS).derive(passphrase)
    padder = padding.PKCS7(AES_BLOCK_BYTES * 8).padder()
    padded = padder.update(private_key_info_der) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    kdf = _sequence(
        _oid(_PBKDF2),
        _sequence(_octets(salt), _integer(KEY_KDF_ROUNDS), _sequence(_oid(_HMAC_SHA256), b"\x05\x00")),
    )
    scheme = _sequence(_oid(_PBES2), _sequence(kdf, _sequence(_oid(_AES_256_CBC), _octets(iv))))
    der = _sequence(scheme, _octets(encrypted))
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[start : start + 64] for start in range(0, len(body), 64)]
    return (
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        + b"\n".join(lines)
        + b"\n-----END ENCRYPTED PRIVATE KEY-----\n"
    )
