"""The dashboard's static files (`web/`) as the local server serves them; in AWS CloudFront serves the same files
from S3 (template.yaml, `make publish-web`).

A file is served by its path under `web/` (`/app.css`, `/js/app.js`); the page's own routes (`/`, `/tenants/...`,
`/signin/...`) get `index.html`, and the page renders the screen the path names. `/config.json` tells the page how
to sign in: here with a local token in the URL fragment (`/#token=...`, never sent to the server), in AWS through
the OIDC issuer. Any other path is not the dashboard's (None), so the API's routes and 404s are untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

from local.lambda_runtime import ROOT

WEB_DIR = ROOT / "web"
PAGE_ROUTES = ("/tenants/", "/signin/")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
# The page loads nothing but its own files and talks only to this origin's API; no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Cache-Control": "no-cache",  # revalidate every time: an edited file shows on the next reload
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def local_config() -> dict[str, str]:
    """The page's sign-in settings for the local server: local tokens, the claim names the functions read."""
    from finops.settings import get_settings

    settings = get_settings()
    return {"signIn": "local", "tenantClaim": settings.tenant_claim, "rolesClaim": settings.roles_claim}


def web_asset(path: str, web_dir: Path = WEB_DIR) -> tuple[bytes, dict[str, str]] | None:
    """The body and headers answering GET `path` (already URL-decoded), or None when it is not the dashboard's."""
    if path == "/config.json":
        return json.dumps(local_config()).encode(), {"Content-Type": CONTENT_TYPES[".json"], **HEADERS}
    if path == "/" or path.startswith(PAGE_ROUTES):
        file = web_dir / "index.html"
    else:
        file = (web_dir / path.lstrip("/")).resolve()
        # Only regular files inside web/ with a known type: no traversal, no directory listings, no dotfiles.
        if not file.is_relative_to(web_dir.resolve()) or any(part.startswith(".") for part in Path(path).parts):
            return None
    content_type = CONTENT_TYPES.get(file.suffix)
    if content_type is None or not file.is_file():
        return None
    headers = {"Content-Type": content_type, **HEADERS}
    if file.suffix == ".html":
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return file.read_bytes(), headers
