"""Local JWTs: issue tokens the local server accepts, and verify them as API Gateway's JWT authorizer would.

Tokens are HS256, signed with a random secret kept in `$FINOPS_DATA_DIR/jwt-secret` (mode 0600, made on first
use); issuer and audience come from the template's JWT authorizer. Printing a token never opens the
databases, so `make -s token` works while the server holds them.

Usage: python -m local.token --tenant demo --role admin
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt

from local.lambda_runtime import ROOT

ALGORITHM = "HS256"
LIFETIME = timedelta(hours=12)
ROLES = ("user", "admin", "system")
SECRET_FILE = "jwt-secret"


def data_dir() -> Path:
    """`$FINOPS_DATA_DIR` as an absolute path (relative to the working directory), default `<repo>/.finops`."""
    configured = os.environ.get("FINOPS_DATA_DIR")
    return Path(configured).resolve() if configured else ROOT / ".finops"


def signing_secret(directory: Path | None = None) -> str:
    """The local signing secret, created (mode 0600) if missing; safe when two processes race to create it."""
    directory = directory or data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SECRET_FILE
    if not path.exists():
        # Write a complete file under a temporary name, then link it into place: a reader never sees it half
        # written, and if another process won the race its secret is kept.
        temporary = directory / f".{SECRET_FILE}.{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


def issue_token(
    tenant: str | None,
    roles: list[str],
    *,
    directory: Path | None = None,
    lifetime: timedelta = LIFETIME,
    subject: str | None = None,
) -> str:
    from finops.settings import get_settings  # claim names are configurable, as in the deployed service
    from local.sam_template import load_template

    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValueError(f"role must be one of {', '.join(ROLES)} (got {', '.join(roles) or 'none'})")
    if not tenant and "system" not in roles:
        raise ValueError("a user or admin token needs a tenant (TENANT=<id>)")
    settings = get_settings()
    config = load_template().jwt
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject or (f"{tenant}-{roles[0]}" if tenant else "local-system"),
        settings.roles_claim: roles,
        "iss": config.issuer,
        "aud": config.audience[0] if len(config.audience) == 1 else list(config.audience),
        "iat": now,
        "exp": now + int(lifetime.total_seconds()),
    }
    if tenant:
        claims[settings.tenant_claim] = tenant
    return jwt.encode(claims, signing_secret(directory), algorithm=ALGORITHM)


def verify_token(token: str, *, secret: str, issuer: str, audience: tuple[str, ...]) -> dict[str, Any]:
    """The token's claims; raises jwt.InvalidTokenError when the signature, issuer, audience or expiry is wrong."""
    return jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        issuer=issuer,
        audience=list(audience),
        options={"require": ["exp", "iss", "aud", "sub"]},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a JWT the local server accepts.")
    parser.add_argument("--tenant", default="", help="tenant id (may be empty for a system token)")
    parser.add_argument("--role", default="admin", help="user, admin or system (a comma list for several)")
    parser.add_argument("--hours", type=float, default=LIFETIME.total_seconds() / 3600, help="lifetime in hours")
    args = parser.parse_args(argv)
    roles = [r.strip() for r in args.role.split(",") if r.strip()]
    try:
        print(issue_token(args.tenant.strip() or None, roles, lifetime=timedelta(hours=args.hours)))
    except (ValueError, FileNotFoundError) as error:
        print(f"token: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
