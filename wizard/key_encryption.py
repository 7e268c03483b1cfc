"""The private key and the PFX protected with iteration counts that make guessing expensive.

cryptography's `BestAvailableEncryption` writes PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) with
only 2048 iterations and offers no way to raise them for PKCS#8 (its encryption builder is
for PKCS#12 and OpenSSH only). So the same standard structure is built here with
KEY_KDF_ROUNDS iterations; OpenSSL, cryptography and every PKCS#8 reader open it as before.

For a PFX the builder raises the encryption's rounds but leaves the integrity MAC's key
derivation at 2048 iterations, and the MAC alone tells a guessing program whether a passphrase
is right. `strengthen_pfx_mac` recomputes that MAC (RFC 7292, HMAC-SHA256) with PFX_MAC_ROUNDS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

KEY_KDF_ROUNDS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256; about 0.1 s to open
PFX_MAC_ROUNDS = 100_000  # as the PFX's own encryption (certs.PFX_KDF_ROUNDS)
PFX_MAC_SALT_BYTES = 16
_SHA256_BLOCK = 64
SALT_BYTES = 16
AES_BLOCK_BYTES = 16

_PEM_LABEL = b"ENCRYPTED PRIVATE KEY"  # RFC 7468's label for EncryptedPrivateKeyInfo
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
    return b"-----BEGIN %s-----\n%s\n-----END %s-----\n" % (
        _PEM_LABEL, b"\n".join(lines), _PEM_LABEL
    )


# --- the PFX's MAC -------------------------------------------------------------------------


def _element(data: bytes, start: int) -> tuple[int, int, int]:
    """The DER element at `start`: (tag, where its content starts, where it ends)."""
    tag, size = data[start], data[start + 1]
    content = start + 2
    if size & 0x80:
        count = size & 0x7F
        size = int.from_bytes(data[content : content + count], "big")
        content += count
    return tag, content, content + size


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, content start, end) of each element between `start` and `end`."""
    found = []
    while start < end:
        tag, content, stop = _element(data, start)
        found.append((tag, start, content, stop))
        start = stop
    return found


def _pkcs12_mac_key(passphrase: bytes, salt: bytes, rounds: int) -> bytes:
    """RFC 7292 appendix B key derivation (ID 3: MAC key), SHA-256, one 32-byte block."""

    def fill(value: bytes) -> bytes:
        if not value:
            return b""
        size = _SHA256_BLOCK * -(-len(value) // _SHA256_BLOCK)
        return (value * (size // len(value) + 1))[:size]

    password = (passphrase.decode("utf-8") + "\0").encode("utf-16-be")  # a BMPString
    digest = hashlib.sha256(bytes([3]) * _SHA256_BLOCK + fill(salt) + fill(password)).digest()
    for _ in range(rounds - 1):
        digest = hashlib.sha256(digest).digest()
    return digest


def strengthen_pfx_mac(pfx: bytes, passphrase: bytes) -> bytes:
    """The PFX with its MAC recomputed: HMAC-SHA256 under a key derived in PFX_MAC_ROUNDS."""
    _, content, end = _element(pfx, 0)
    version, auth_safe, _mac_data = _children(pfx, content, end)
    _, info_start, info_content, info_end = auth_safe
    _oid_element, explicit = _children(pfx, info_content, info_end)
    _, _, octets_content, octets_end = _children(pfx, explicit[2], explicit[3])[0]
    signed = pfx[octets_content:octets_end]
    salt = os.urandom(PFX_MAC_SALT_BYTES)
    key = _pkcs12_mac_key(passphrase, salt, PFX_MAC_ROUNDS)
    mac = hmac.new(key, signed, hashlib.sha256).digest()
    sha256 = _sequence(_oid("2.16.840.1.101.3.4.2.1"), b"\x05\x00")
    mac_data = _sequence(
        _sequence(sha256, _octets(mac)), _octets(salt), _integer(PFX_MAC_ROUNDS)
    )
    return _sequence(pfx[version[1] : version[3]], pfx[info_start:info_end], mac_data)
