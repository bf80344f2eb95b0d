// Who is signed in. Locally: a token from the URL fragment (/#token=..., made by `make -s token`), never sent to
// the server in a URL. In AWS: the OIDC issuer's hosted login (authorization code + PKCE), configured by the
// stack (config.json). Either way the token lives in sessionStorage: gone when the tab closes.

const KEY = "finops.token";
const RETURN_KEY = "finops.return";
const VERIFIER_KEY = "finops.pkce";
let config = { signIn: "local", tenantClaim: "tenant_id", rolesClaim: "roles" };

export async function loadConfig() {
  const reply = await fetch("/config.json", { cache: "no-cache" });
  if (reply.ok) config = { ...config, ...(await reply.json()) };
  return config;
}

/** Takes a token handed over in the fragment, and removes it from the address bar and history. */
export function adoptFragmentToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (!token) return false;
  sessionStorage.setItem(KEY, token.trim());
  history.replaceState(history.state, "", location.pathname + location.search);
  return true;
}

export const token = () => sessionStorage.getItem(KEY);

export function signOut() {
  sessionStorage.removeItem(KEY);
}

function decode(jwt) {
  try {
    const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(payload))));
  } catch {
    return null;
  }
}

/** The signed-in principal as the page needs it (the API checks the token itself: this only shapes the UI). */
export function principal() {
  const jwt = token();
  const claims = jwt && decode(jwt);
  if (!claims) return null;
  let roles = claims[config.rolesClaim] ?? [];
  if (typeof roles === "string") roles = roles.replace(/^\[|\]$/g, "").split(/[\s,]+/).filter(Boolean);
  return {
    subject: claims.sub || "",
    tenant: claims[config.tenantClaim] || null,
    roles,
    expired: typeof claims.exp === "number" && claims.exp * 1000 <= Date.now(),
    // What the API lets each role do: admins manage their tenant's budgets and anomalies; system any tenant's.
    canManage: roles.includes("admin") || roles.includes("system"),
  };
}

export const isOidc = () => config.signIn === "oidc";

const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** Starts the hosted login; it comes back to /signin/callback. */
export async function startOidcSignIn() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(VERIFIER_KEY, JSON.stringify({ verifier, state }));
  sessionStorage.setItem(RETURN_KEY, location.pathname + location.search);
  const url = new URL(config.authorizeUrl);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: `${location.origin}/signin/callback`,
    scope: config.scope || "openid",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
}

/** Finishes the hosted login: exchanges the code for tokens, keeps the one the API's authorizer expects. */
export async function finishOidcSignIn() {
  const params = new URLSearchParams(location.search);
  const saved = JSON.parse(sessionStorage.getItem(VERIFIER_KEY) || "null");
  sessionStorage.removeItem(VERIFIER_KEY);
  if (params.get("error")) throw new Error(`The sign-in was refused: ${params.get("error_description") || params.get("error")}`);
  if (!saved || params.get("state") !== saved.state) throw new Error("This sign-in link is stale or was not started here; sign in again.");
  let reply;
  try {
    reply = await fetch(config.tokenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: config.clientId,
        code: params.get("code") || "",
        redirect_uri: `${location.origin}/signin/callback`,
        code_verifier: saved.verifier,
      }),
    });
  } catch {
    throw new Error("The identity provider's token endpoint could not be reached; try signing in again.");
  }
  if (!reply.ok) throw new Error(`The identity provider refused the sign-in (${reply.status}).`);
  const tokens = await reply.json();
  const jwt = tokens[config.tokenKind || "id_token"];
  if (!jwt) throw new Error(`The identity provider returned no ${config.tokenKind || "id_token"}.`);
  sessionStorage.setItem(KEY, jwt);
  const back = sessionStorage.getItem(RETURN_KEY) || "/";
  sessionStorage.removeItem(RETURN_KEY);
  return back.startsWith("/") && !back.startsWith("//") ? back : "/";
}
