// The dashboard: signs in, routes each URL to its screen, draws the navigation. No build step: ES modules.
import { ApiError } from "./api.js";
import * as auth from "./auth.js";
import { h, message, replace } from "./dom.js";
import { anomaliesView } from "./views/anomalies.js";
import { budgetDetailView } from "./views/budget_detail.js";
import { budgetFormView } from "./views/budget_form.js";
import { budgetsView } from "./views/budgets.js";
import { costsView } from "./views/costs.js";
import { overviewView } from "./views/overview.js";
import { signInView, tenantPickerView } from "./views/signin.js";

const TENANT = "([A-Za-z0-9][A-Za-z0-9_.:-]{0,127})";
const ROUTES = [
  [new RegExp(`^/tenants/${TENANT}/?$`), overviewView, "overview"],
  [new RegExp(`^/tenants/${TENANT}/overview$`), overviewView, "overview"],
  [new RegExp(`^/tenants/${TENANT}/costs$`), costsView, "costs"],
  [new RegExp(`^/tenants/${TENANT}/budgets$`), budgetsView, "budgets"],
  [new RegExp(`^/tenants/${TENANT}/budgets/new$`), budgetFormView, "budgets"],
  [new RegExp(`^/tenants/${TENANT}/budgets/([^/]+)/edit$`), budgetFormView, "budgets"],
  [new RegExp(`^/tenants/${TENANT}/budgets/([^/]+)$`), budgetDetailView, "budgets"],
  [new RegExp(`^/tenants/${TENANT}/anomalies$`), anomaliesView, "anomalies"],
];
const SECTIONS = [
  ["overview", "Overview"],
  ["costs", "Cost explorer"],
  ["budgets", "Budgets"],
  ["anomalies", "Anomalies"],
];

const main = document.getElementById("main");
let generation = 0;

export function navigate(url, { replace: replacing = false } = {}) {
  if (replacing) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route({ focus: true });
}

function drawHeader(tenant, section, user) {
  const nav = document.getElementById("nav");
  replace(nav, tenant ? h("ul", {}, SECTIONS.map(([key, label]) =>
    h("li", {}, h("a", { href: `/tenants/${encodeURIComponent(tenant)}/${key}`, "aria-current": key === section ? "page" : null }, label)))) : null);
  const who = document.getElementById("who");
  replace(who, user ? [
    h("span", { class: "who-text" }, `${user.tenant || "any tenant"} · ${user.roles.join(", ") || "no role"}`),
    h("button", { type: "button", class: "link-button", onclick: () => { auth.signOut(); navigate("/"); } }, "Sign out"),
  ] : null);
}

export function showError(container, error) {
  const text = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  const again = error instanceof ApiError && error.status === 401
    ? h("button", { type: "button", onclick: () => { auth.signOut(); navigate(location.pathname + location.search); } }, "Sign in again")
    : h("button", { type: "button", onclick: () => route({}) }, "Retry");
  replace(container, message("error", h("p", {}, text), again));
}

async function route({ focus = false } = {}) {
  const mine = ++generation;
  const user = auth.principal();
  const path = location.pathname;
  if (path === "/signin/callback") {
    try {
      navigate(await auth.finishOidcSignIn(), { replace: true });
    } catch (error) {
      drawHeader(null, null, null);
      showError(main, error);
    }
    return;
  }
  if (!user || user.expired) {
    drawHeader(null, null, null);
    document.title = "Sign in · FinOps";
    signInView(main, { expired: Boolean(user?.expired), retry: () => route({}) });
    return;
  }
  if (path === "/" || path === "/tenants" || path === "/tenants/") {
    if (user.tenant) navigate(`/tenants/${encodeURIComponent(user.tenant)}/overview`, { replace: true });
    else {
      drawHeader(null, null, user);
      tenantPickerView(main, (tenant) => navigate(`/tenants/${encodeURIComponent(tenant)}/overview`));
    }
    return;
  }
  const match = ROUTES.map(([pattern, view, section]) => [path.match(pattern), view, section]).find(([m]) => m);
  if (!match) {
    drawHeader(user.tenant, null, user);
    replace(main, h("h1", {}, "Page not found"), message("info", h("p", {}, "There is no screen at this address. "), h("a", { href: "/" }, "Go to the overview")));
    return;
  }
  const [[, tenant, id], view, section] = match;
  drawHeader(tenant, section, user);
  const ctx = {
    tenant,
    id: id ? decodeURIComponent(id) : null,
    query: new URLSearchParams(location.search),
    user,
    main,
    alive: () => mine === generation,
    navigate,
    setQuery(params, { push = false } = {}) {
      const search = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined)).toString();
      const url = `${location.pathname}${search ? `?${search}` : ""}`;
      if (push) history.pushState(null, "", url);
      else history.replaceState(null, "", url);
      this.query = new URLSearchParams(search);
    },
    title(text) {
      document.title = `${text} · ${tenant} · FinOps`;
    },
  };
  try {
    await view(ctx);
  } catch (error) {
    if (mine === generation) showError(main, error);
  }
  if (focus && mine === generation) main.querySelector("h1")?.focus();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.target || link.hasAttribute("download") || link.origin !== location.origin) return;
  event.preventDefault();
  navigate(link.pathname + link.search);
});
window.addEventListener("popstate", () => route({ focus: true }));

await auth.loadConfig();
auth.adoptFragmentToken();
route({});
