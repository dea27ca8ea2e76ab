"""The local development signing key and ``gateway token``.

The key is created on first use under $CG_HOME (default
~/.cache/compliance-gateway) with 0600 permissions. The gateway trusts it
only when no other key source (PEM file, JWKS URL, HS256 secret) is
configured, i.e. on embedded defaults, and says so in its log.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.commands import UsageError
from audit.keys import cg_home

DEV_ISSUER = "compliance-gateway-dev"
DEV_KID = "dev-ed25519"


def dev_key_path() -> Path:
    return cg_home() / "dev-jwt-ed25519.pem"


def load_or_create_dev_key() -> Ed25519PrivateKey:
    """The dev key, created on first use. Creation is exclusive (O_EXCL): two processes starting
    at once (``gateway serve`` and ``gateway token``) end up with the same key, never two."""
    path = dev_key_path()
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
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
    key: object | None = None,
    algorithm: str = "EdDSA",
    kid: str | None = DEV_KID,
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": sub, "tenant": tenant, "roles": roles, "iat": now, "nbf": now,
                                 "exp": now + ttl}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    if extra:
        claims.update(extra)
    signing_key = key if key is not None else load_or_create_dev_key()
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, signing_key, algorithm=algorithm, headers=headers)


def token_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="gateway token", description=__doc__.splitlines()[0])
    ap.add_argument("--sub", required=True, help="subject (user or service id)")
    ap.add_argument("--tenant", required=True)
    ap.add_argument("--role", action="append", default=[], help="repeat for several roles")
    ap.add_argument("--ttl", type=int, default=3600, help="seconds until expiry (default 3600)")
    ap.add_argument("--audience", default=None)
    ap.add_argument("--issuer", default=DEV_ISSUER)
    ap.add_argument("--claim", action="append", default=[], metavar="KEY=VALUE",
                    help="extra claim; VALUE is parsed as JSON when it can be (repeatable)")
    ap.add_argument("--key", type=Path, default=None,
                    help="PEM private key to sign with (default: the local development key)")
    ap.add_argument("--alg", default=None, help="algorithm (default: EdDSA for the dev key, else by key type)")
    args = ap.parse_args(argv)
    import orjson

    extra: dict[str, object] = {}
    for item in args.claim:
        k, sep, v = item.partition("=")
        if not sep:
            raise UsageError(f"--claim expects KEY=VALUE, got {item!r}")
        try:
            extra[k] = orjson.loads(v)
        except orjson.JSONDecodeError:
            extra[k] = v
    key: object | None = None
    alg = args.alg or "EdDSA"
    kid: str | None = DEV_KID
    if args.key is not None:
        key = serialization.load_pem_private_key(args.key.read_bytes(), password=None)
        kid = None
        if args.alg is None:
            from cryptography.hazmat.primitives.asymmetric import ec, rsa

            alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256" if isinstance(
                key, ec.EllipticCurvePrivateKey) else "EdDSA"
    print(mint(args.sub, args.tenant, args.role or ["user"], ttl=args.ttl, issuer=args.issuer,
               audience=args.audience, extra=extra, key=key, algorithm=alg, kid=kid))
    return 0
