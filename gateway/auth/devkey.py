"""The local development signing key and ``gateway token``.

The key is created on first use under $CG_HOME (default
~/.cache/compliance-gateway) with 0600 permissions. The gateway trusts it
only when no other key source (PEM file, JWKS URL, HS256 secret) is
configured, i.e. on embedded defaults, and says so in its log.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TypeAlias

import click
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from commandline import UsageError, cg_home

DEV_ISSUER = "compliance-gateway-dev"
DEV_KID = "dev-ed25519"
# The private keys PyJWT signs with (what ``jwt.encode`` accepts besides an HMAC secret).
SigningKey: TypeAlias = (
    rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | Ed25519PrivateKey | Ed448PrivateKey | str | bytes
)
SIGNING_KEY_TYPES = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, Ed25519PrivateKey, Ed448PrivateKey)


def dev_key_path() -> Path:
    return cg_home() / "dev-jwt-ed25519.pem"


def load_or_create_dev_key() -> Ed25519PrivateKey:
    """The dev key, created on first use. Creation is exclusive (O_EXCL): two processes starting
    at once (``gateway serve`` and ``gateway token``) end up with the same key, never two."""
    path = dev_key_path()
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race: use its key
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            return key
    for _ in range(50):  # the winner may still be writing
        data = path.read_bytes()
        if data.strip().endswith(b"-----END PRIVATE KEY-----"):
            break
        time.sleep(0.01)
    loaded = serialization.load_pem_private_key(data, password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise UsageError(f"{path} does not hold an Ed25519 private key")
    return loaded


def mint(
    sub: str,
    tenant: str,
    roles: list[str],
    *,
    ttl: int = 3600,
    issuer: str | None = DEV_ISSUER,
    audience: str | None = None,
    extra: dict[str, object] | None = None,
    key: SigningKey | None = None,
    algorithm: str = "EdDSA",
    kid: str | None = DEV_KID,
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": sub,
        "tenant": tenant,
        "roles": roles,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
    }
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    if extra:
        claims.update(extra)
    signing_key = key if key is not None else load_or_create_dev_key()
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, signing_key, algorithm=algorithm, headers=headers)


@click.command(help="Mint a JWT for local testing, signed with the local development key (or --key).")
@click.option("--sub", required=True, help="subject: the user or service id")
@click.option("--tenant", required=True, help="the tenant the caller belongs to (rate limits, policy, audit)")
@click.option(
    "--role", "roles", multiple=True, help="a role of the caller; repeat for several (default: user)"
)
@click.option("--ttl", type=int, default=3600, show_default=True, help="seconds until expiry")
@click.option("--audience", default=None, help="the aud claim (must match the gateway's auth.audience)")
@click.option("--issuer", default=DEV_ISSUER, show_default=True, help="the iss claim")
@click.option(
    "--claim",
    "claims",
    multiple=True,
    metavar="KEY=VALUE",
    help="extra claim; VALUE is parsed as JSON when it can be (repeatable)",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PEM private key to sign with (default: the local development key)",
)
@click.option("--alg", default=None, help="algorithm (default: EdDSA for the dev key, else by key type)")
@click.option(
    "--json", "as_json", is_flag=True, help='print {"token": ...} as JSON instead of the bare token'
)
def token_main(
    sub: str,
    tenant: str,
    roles: tuple[str, ...],
    ttl: int,
    audience: str | None,
    issuer: str,
    claims: tuple[str, ...],
    key: Path | None,
    alg: str | None,
    as_json: bool,
) -> int:
    import orjson

    extra: dict[str, object] = {}
    for item in claims:
        k, sep, v = item.partition("=")
        if not sep:
            raise UsageError(f"--claim expects KEY=VALUE, got {item!r}")
        try:
            extra[k] = orjson.loads(v)
        except orjson.JSONDecodeError:
            extra[k] = v
    signing_key: SigningKey | None = None
    algorithm = alg or "EdDSA"
    kid: str | None = DEV_KID
    if key is not None:
        loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
        if not isinstance(loaded, SIGNING_KEY_TYPES):
            raise UsageError(
                f"{key} holds a {type(loaded).__name__}; a JWT is signed with an RSA, EC, "
                "Ed25519 or Ed448 private key"
            )
        signing_key = loaded
        kid = None
        if alg is None:
            algorithm = (
                "RS256"
                if isinstance(signing_key, rsa.RSAPrivateKey)
                else "ES256"
                if isinstance(signing_key, ec.EllipticCurvePrivateKey)
                else "EdDSA"
            )
    token = mint(
        sub,
        tenant,
        list(roles) or ["user"],
        ttl=ttl,
        issuer=issuer,
        audience=audience,
        extra=extra,
        key=signing_key,
        algorithm=algorithm,
        kid=kid,
    )
    print(orjson.dumps({"token": token}).decode() if as_json else token)
    return 0
