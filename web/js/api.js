// The API, with the signed-in token; every refusal becomes an ApiError whose message a person can act on.
import { token } from "./auth.js";

// `detail` is what the service said (an RFC 9457 problem's detail), `errors` each field and rule it named.
export class ApiError extends Error {
  constructor(status, message, { detail = "", errors = [] } = {}, retryAfter = null) {
    super(message);
    this.status = status;
    this.detail = detail;
    this.errors = errors;
    this.retryAfter = retryAfter;
  }
}

const plain = {
  401: "Your sign-in is missing, expired or not valid. Sign in again (locally: open the link `make run` printed, or /#token=$(make -s token)).",
  403: "Your sign-in does not allow this: the tenant in the address is not yours, or your role may only read.",
  404: "Not found: it may have been deleted, or it belongs to another tenant.",
};

// Every refusal is an RFC 9457 problem (application/problem+json): `detail` in words, `errors` per field.
function problemOf(body) {
  const errors = Array.isArray(body?.errors) ? body.errors : [];
  const detail = typeof body?.detail === "string" ? body.detail : errors.map((e) => e.msg).filter(Boolean).join("; ");
  return { detail: detail || body?.message || "", errors };
}

export async function api(path, { method = "GET", query, body, headers = {}, accept = "application/json" } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const jwt = token();
  let reply;
  try {
    reply = await fetch(url, {
      method,
      headers: {
        Accept: accept,
        ...(jwt ? { Authorization: `Bearer ${jwt}` } : {}),
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError(0, "The API cannot be reached. Is the server running? Check the connection and reload.");
  }
  if (reply.status === 204) return null;
  const text = await reply.text();
  if (reply.ok) return accept === "application/json" ? JSON.parse(text) : text;
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  const problem = problemOf(parsed);
  const said = problem.detail;
  if (reply.status === 503 || reply.status === 502 || reply.status === 504) {
    const retry = Number(reply.headers.get("Retry-After")) || null;
    throw new ApiError(reply.status, `The service is temporarily unavailable${said ? ` (${said})` : ""}. Try again${retry ? ` in ${retry} s` : " in a moment"}.`, problem, retry);
  }
  if (reply.status >= 500) throw new ApiError(reply.status, "The service failed to answer (an internal error). Try again; if it persists, the server's log has the details.", problem);
  throw new ApiError(reply.status, plain[reply.status] ? `${plain[reply.status]}${said ? ` (${said})` : ""}` : said || `Request refused (${reply.status}).`, problem);
}

export const costsBase = "/v1/analytics/finops";
export const budgetsBase = "/api/ai-budget/finops";
