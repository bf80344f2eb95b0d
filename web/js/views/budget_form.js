// Budget form (create and edit): the policy wizard in four steps, a live preview of what the policy would decide
// now at current spend and forecast, the API's 422s next to the fields they name, and edits that carry the
// budget's version (If-Match) so that someone else's change in between is a 412, explained.
import { ApiError, api, budgetsBase, costsBase } from "../api.js";
import { crossingDate, forgetSpend, periodForecast, periodSpend } from "../budget_spend.js";
import * as dates from "../dates.js";
import { h, message, replace } from "../dom.js";
import { CATEGORIES, categoryLabel, longDay, money, percent, range } from "../format.js";
import { ACTIONS, activeActions, decide, policyInWords, stateBadge, stateFor } from "../policy.js";
import { pageHeader } from "./common.js";

const PERIODS = { monthly: "Monthly", quarterly: "Quarterly", annual: "Annual", daily: "Daily" };
const FILTER_FIELDS = [["models", "model", "Models"], ["regions", "region", "Regions"], ["services", "service", "Services"]];
const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

function field(id, label, input, hint) {
  input.id = id;
  input.name = id;
  input.setAttribute("aria-describedby", `${id}-hint ${id}-error`);
  return h("div", { class: "field", dataset: { field: id } }, h("label", { for: id }, label), input,
    h("span", { class: "hint", id: `${id}-hint` }, hint || ""), h("span", { class: "field-error", id: `${id}-error` }));
}

function checks(name, legend, options, chosen, hint) {
  return h("fieldset", { class: "field checks", dataset: { field: name }, id: name, "aria-describedby": `${name}-error` }, h("legend", {}, legend),
    Object.entries(options).map(([value, text]) => h("label", { class: "check" }, h("input", { type: "checkbox", name, value, checked: chosen.includes(value) }), text)),
    hint ? h("span", { class: "hint" }, hint) : null, h("span", { class: "field-error", id: `${name}-error` }));
}

/** The form's values as the API's body (camelCase names only). */
function readForm(form, tenant) {
  const data = new FormData(form);
  const number = (name) => (String(data.get(name) || "").trim() === "" ? null : Number(data.get(name)));
  const actions = data.getAll("actions");
  return {
    tenantId: tenant,
    name: String(data.get("name") || "").trim(),
    amount: number("amount"),
    period: data.get("period"),
    startDate: data.get("startDate"),
    categories: data.getAll("categories"),
    models: list(String(data.get("models") || "")),
    regions: list(String(data.get("regions") || "")),
    services: list(String(data.get("services") || "")),
    policy: {
      notifyThreshold: number("notifyThreshold"),
      enforceThreshold: number("enforceThreshold"),
      actions,
      notifyEmails: list(String(data.get("notifyEmails") || "")),
      adminEmails: list(String(data.get("adminEmails") || "")),
      rateLimitFactor: actions.includes("rate_limit") ? number("rateLimitFactor") : null,
    },
  };
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const EDITABLE = ["name", "amount", "period", "startDate", "categories", "models", "regions", "services", "policy"];

function normalisedPolicy(policy) {
  return {
    notifyThreshold: Number(policy.notifyThreshold),
    enforceThreshold: policy.enforceThreshold === null || policy.enforceThreshold === undefined ? null : Number(policy.enforceThreshold),
    actions: policy.actions,
    notifyEmails: policy.notifyEmails,
    adminEmails: policy.adminEmails,
    rateLimitFactor: policy.rateLimitFactor === null || policy.rateLimitFactor === undefined ? null : Number(policy.rateLimitFactor),
  };
}

/** Where a 422 belongs: the deepest field its location names, or one its message names, else the form. */
function fieldFor(form, loc, msg) {
  const path = (loc || []).filter((part) => part !== "body" && typeof part === "string");
  for (let i = path.length; i > 0; i--) {
    const name = path[i - 1];
    if (form.querySelector(`[data-field="${name}"]`)) return name;
  }
  // The field the message names first ("rateLimitFactor is required when actions include rate_limit").
  const named = [...form.querySelectorAll("[data-field]")].map((el) => [el.dataset.field, (msg || "").search(new RegExp(`\\b${el.dataset.field}\\b`))]).filter(([, at]) => at >= 0);
  return named.length ? named.sort((a, b) => a[1] - b[1])[0][0] : null;
}

export async function budgetFormView(ctx) {
  const { tenant, main, user, id } = ctx;
  const editing = Boolean(id);
  ctx.title(editing ? "Edit budget" : "New budget");
  const backTo = editing ? `/tenants/${encodeURIComponent(tenant)}/budgets/${encodeURIComponent(id)}` : `/tenants/${encodeURIComponent(tenant)}/budgets`;
  if (!user.canManage) {
    replace(main, pageHeader(editing ? "Edit budget" : "New budget", null), message("error", h("p", {}, "Only an admin of this tenant can create or change budgets; your role may read them."), h("a", { href: backTo }, "Back")));
    return;
  }
  forgetSpend();
  const now = dates.today();
  let budget = null;
  let status = null;
  if (editing) {
    [budget, status] = await Promise.all([
      api(`${budgetsBase}/budgets/${encodeURIComponent(id)}`),
      api(`${budgetsBase}/budgets/${encodeURIComponent(id)}/status`).catch(() => null),
    ]);
  }
  const initial = budget || {
    name: "", amount: "", period: "monthly", startDate: dates.monthStart(now), categories: [], models: [], regions: [], services: [],
    policy: { notifyThreshold: 80, enforceThreshold: 100, actions: ["notify"], notifyEmails: [], adminEmails: [], rateLimitFactor: null },
  };
  let version = budget?.version ?? null;
  const p = initial.policy;

  const known = h("div", { class: "known-values" });
  const rateLimit = h("input", { type: "number", step: "0.05", min: "0", max: "1", value: p.rateLimitFactor === null || p.rateLimitFactor === undefined ? "" : Number(p.rateLimitFactor), inputmode: "decimal" });
  const form = h("form", { class: "budget-form", novalidate: true, id: "budget-form" },
    h("div", { class: "form-errors", id: "form-errors", tabindex: "-1" }),
    h("fieldset", { class: "step" }, h("legend", {}, "1. What to watch"),
      field("name", "Name", h("input", { type: "text", value: initial.name, maxlength: "200", autocomplete: "off" })),
      field("period", "Period", h("select", {}, Object.entries(PERIODS).map(([v, t]) => h("option", { value: v, selected: v === initial.period }, t))), "Calendar periods in UTC; the first one starts on the start date."),
      field("startDate", "Start date", h("input", { type: "date", value: initial.startDate })),
      checks("categories", "Categories", Object.fromEntries(CATEGORIES.map((c) => [c, categoryLabel(c)])), initial.categories, "None ticked: all categories."),
      FILTER_FIELDS.map(([name, , label]) => field(name, `${label} (optional)`, h("input", { type: "text", value: initial[name].join(", "), autocomplete: "off", spellcheck: "false" }), "Comma-separated; empty: all.")),
      known),
    h("fieldset", { class: "step" }, h("legend", {}, "2. How much"),
      field("amount", "Amount (USD)", h("input", { type: "number", step: "0.01", min: "0", value: initial.amount, inputmode: "decimal" })),
      field("notifyThreshold", "Notify at (% of the amount)", h("input", { type: "number", step: "1", min: "1", max: "1000", value: Number(p.notifyThreshold) })),
      field("enforceThreshold", "Enforce at (% of the amount, optional)", h("input", { type: "number", step: "1", min: "1", max: "1000", value: p.enforceThreshold === null || p.enforceThreshold === undefined ? "" : Number(p.enforceThreshold) }), "Empty: never enforce.")),
    h("fieldset", { class: "step" }, h("legend", {}, "3. What happens"),
      checks("actions", "Actions", ACTIONS, p.actions, "Notifications fire at the notify threshold, the rest at the enforce threshold."),
      field("rateLimitFactor", "Rate-limit factor (0 to 1)", rateLimit, "Share of the normal request rate allowed while rate limited, e.g. 0.5."),
      field("notifyEmails", "Owners' e-mails", h("input", { type: "text", value: p.notifyEmails.join(", "), autocomplete: "off", spellcheck: "false" }), "Comma-separated; up to 10."),
      field("adminEmails", "Admins' e-mails", h("input", { type: "text", value: p.adminEmails.join(", "), autocomplete: "off", spellcheck: "false" }), "Comma-separated; up to 10.")),
    h("section", { class: "step preview", "aria-labelledby": "preview-title" }, h("h2", { id: "preview-title" }, "4. Preview: what this policy would decide now"), h("div", { id: "preview", "aria-live": "polite" }, h("p", { class: "hint" }, "Fill in the amount to see the preview."))),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary", id: "save-budget" }, editing ? "Save changes" : "Create budget"), h("a", { href: backTo, class: "button" }, "Cancel")));
  replace(main, pageHeader(editing ? `Edit ${budget.name}` : "New budget", editing ? `Version ${version} · tenant ${tenant}` : `Tenant ${tenant}`), form);

  const syncRateLimit = () => {
    rateLimit.disabled = !form.querySelector('input[name="actions"][value="rate_limit"]').checked;
  };
  syncRateLimit();
  loadKnownValues(tenant, form, known, now);

  const preview = form.querySelector("#preview");
  let previews = 0;
  async function drawPreview() {
    const mine = ++previews;
    const draft = readForm(form, tenant);
    if (!(draft.amount > 0) || !(draft.policy.notifyThreshold > 0) || !draft.startDate) {
      replace(preview, h("p", { class: "hint" }, "Fill in the amount, the notify threshold and the start date to see the preview."));
      return;
    }
    try {
      const lines = await previewLines(tenant, draft, { budget, status, now });
      if (mine === previews) replace(preview, lines);
    } catch (error) {
      if (mine === previews) replace(preview, message("error", h("p", {}, `No preview: ${error.message}`)));
    }
  }
  let timer = null;
  form.addEventListener("input", () => {
    syncRateLimit();
    clearTimeout(timer);
    timer = setTimeout(drawPreview, 300);
  });
  form.addEventListener("change", () => {
    syncRateLimit();
    clearTimeout(timer);
    timer = setTimeout(drawPreview, 50);
  });
  drawPreview();

  const errorsBox = form.querySelector("#form-errors");
  function clearErrors() {
    replace(errorsBox);
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }
  function showErrors(error) {
    const general = [];
    for (const d of error.errors.length ? error.errors : [{ msg: error.message }]) {
      const name = fieldFor(form, d.loc, d.msg);
      const text = String(d.msg || "").replace(/^Value error, /, "");
      if (!name) {
        general.push(text);
        continue;
      }
      const slot = form.querySelector(`#${name}-error`);
      slot.textContent = slot.textContent ? `${slot.textContent}; ${text}` : text;
      form.querySelector(`#${name}`)?.setAttribute("aria-invalid", "true");
    }
    const named = [...form.querySelectorAll(".field-error")].filter((el) => el.textContent);
    replace(errorsBox, message("error", h("p", {}, "The budget was not saved:"),
      h("ul", {}, named.map((el) => h("li", {}, h("a", { href: `#${el.id.replace(/-error$/, "")}` }, form.querySelector(`label[for="${el.id.replace(/-error$/, "")}"]`)?.textContent || form.querySelector(`#${el.id.replace(/-error$/, "")} legend`)?.textContent || el.id), `: ${el.textContent}`)),
        general.map((text) => h("li", {}, text)))));
    errorsBox.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const draft = readForm(form, tenant);
    const save = form.querySelector("#save-budget");
    let body = draft;
    if (editing) {
      body = {};
      for (const key of EDITABLE) {
        const before = key === "policy" ? normalisedPolicy(budget.policy) : budget[key];
        if (!same(before, draft[key])) body[key] = draft[key];
      }
      if (!Object.keys(body).length) {
        replace(errorsBox, message("info", h("p", {}, "Nothing changed.")));
        return;
      }
    }
    save.disabled = true;
    try {
      const saved = editing
        ? await api(`${budgetsBase}/budgets/${encodeURIComponent(id)}`, { method: "PATCH", body, headers: { "If-Match": `"${version}"` } })
        : await api(`${budgetsBase}/budgets`, { method: "POST", body });
      forgetSpend();
      ctx.navigate(`/tenants/${encodeURIComponent(tenant)}/budgets/${encodeURIComponent(saved.id)}?saved=${saved.version}`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 422) showErrors(error);
      else if (error.status === 412) {
        replace(errorsBox, message("error", h("p", {}, h("strong", {}, "Someone else changed this budget while you were editing it. "),
          `Your changes were not saved (you edited version ${version}; ${error.detail || error.message}). Reload it to see their changes, then make yours again.`),
        h("button", { type: "button", onclick: () => ctx.navigate(location.pathname, { replace: true }) }, "Reload the budget")));
        errorsBox.focus();
      } else {
        replace(errorsBox, message("error", h("p", {}, error.message)));
        errorsBox.focus();
      }
    } finally {
      save.disabled = false;
    }
  });
}

/** Values seen in the last 90 days, as buttons that add themselves to the filter fields. */
async function loadKnownValues(tenant, form, target, now) {
  try {
    const query = { tenantId: tenant, from: dates.addDays(now, -89), to: now };
    const replies = await Promise.all(FILTER_FIELDS.map(([, dimension]) => api(`${costsBase}/costs/by-${dimension}`, { query })));
    replace(target, FILTER_FIELDS.map(([name, , label], i) => replies[i].rows.length ? h("div", { class: "known" }, h("span", { class: "hint" }, `${label} seen in the last 90 days: `),
      replies[i].rows.slice(0, 12).map((row) => h("button", { type: "button", class: "chip", "aria-label": `Add ${row.key} to ${label.toLowerCase()}`, onclick: () => {
        const input = form.querySelector(`#${name}`);
        const values = list(input.value);
        if (!values.includes(row.key)) input.value = [...values, row.key].join(", ");
        input.dispatchEvent(new Event("change", { bubbles: true }));
      } }, row.key))) : null));
  } catch {
    replace(target);
  }
}

/** Sentences saying what the draft policy decides at the current spend and where the forecast takes it. */
async function previewLines(tenant, draft, { budget, status, now }) {
  const period = dates.periodContaining(draft.period, draft.startDate, now);
  if (!period) return [h("p", {}, `The budget starts on ${longDay(draft.startDate)}: nothing is spent in its first period yet, so it is OK and allows everything.`)];
  const scope = { categories: draft.categories, models: draft.models, regions: draft.regions, services: draft.services };
  const spend = await periodSpend(tenant, scope, period, now);
  // The service's own figure when the scope is the saved one; otherwise the same sum from the cost endpoints.
  const unchangedScope = budget && status && ["period", "startDate", "categories", "models", "regions", "services"].every((k) => same(budget[k], draft[k]));
  const spent = unchangedScope ? status.spent : spend.total;
  const pct = (spent / draft.amount) * 100;
  const state = stateFor(draft.policy, pct);
  const active = activeActions(draft.policy, state);
  const forecast = await periodForecast(tenant, scope, period, spend, draft.period, now);
  const lines = [
    h("p", { id: "preview-now" }, `This period (${range(period[0], period[1])}) `, spend.exact || unchangedScope ? "" : "at most ",
      h("strong", {}, money(spent)), ` is spent: ${percent(pct)} of ${money(draft.amount)}, so the budget would be `, stateBadge(state),
      active.length ? `, with ${active.map((a) => ACTIONS[a]).join(", ")} in effect.` : " and nothing would be in effect."),
    h("p", {}, `Right now an AI call would be ${decide(draft.policy, draft.categories, "ai_generation", pct).words}, and a report export ${decide(draft.policy, draft.categories, "export", pct).words}.`),
  ];
  if (!spend.exact && !unchangedScope) lines.push(h("p", { class: "hint" }, "Filters on several of model, region and service: the cost endpoints cannot intersect them, so this is an upper bound; the budget's status shows the exact figure once saved."));
  if (forecast.refused) lines.push(h("p", { class: "hint" }, `No forecast: ${forecast.refused}.`));
  else {
    const fpct = (forecast.expected / draft.amount) * 100;
    const thresholds = [["notify", draft.policy.notifyThreshold], ["enforce", draft.policy.enforceThreshold]].filter(([, t]) => t !== null && pct < t);
    const crossings = thresholds.map(([kind, t]) => [kind, t, crossingDate(spend, forecast, (draft.amount * t) / 100)]).filter(([, , d]) => d);
    lines.push(h("p", { id: "preview-forecast" }, `By ${longDay(period[1])} spend is expected to reach `, h("strong", {}, money(forecast.expected)), ` (${percent(fpct)} of the amount)`,
      forecast.lower80 !== null ? `, 80% interval ${money(forecast.lower80)} – ${money(forecast.upper80)}` : "", ". ",
      crossings.length ? crossings.map(([kind, t, d]) => `The ${kind} threshold (${t}%) would be crossed around ${longDay(d)}. `).join("") : "No further threshold is expected to be crossed this period. ",
      forecast.expected > draft.amount ? "The daily check would send a forecast alert (forecast_exceeds)." : ""));
  }
  lines.push(h("ul", { class: "policy-words" }, policyInWords(draft.policy, draft.amount).map((line) => h("li", {}, line))));
  return lines;
}
