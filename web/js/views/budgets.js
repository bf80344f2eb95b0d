// Budgets: a card per budget with its state (colour, icon and words), spend and forecast against the amount with
// the thresholds marked, the actions in effect, the policy in words, and quick actions.
import { api, budgetsBase } from "../api.js";
import { gauge } from "../chart.js";
import { h, message, replace } from "../dom.js";
import { categoryLabel, longDay, money, percent, range } from "../format.js";
import { ACTIONS, policyInWords, stateBadge, thresholdMarks } from "../policy.js";
import { pageHeader } from "./common.js";

export function scopeWords(budget) {
  const parts = [budget.categories.length ? budget.categories.map(categoryLabel).join(", ") : "All categories"];
  if (budget.models.length) parts.push(`models ${budget.models.join(", ")}`);
  if (budget.regions.length) parts.push(`regions ${budget.regions.join(", ")}`);
  if (budget.services.length) parts.push(`services ${budget.services.join(", ")}`);
  return `${budget.period[0].toUpperCase()}${budget.period.slice(1)} · ${parts.join(" · ")}`;
}

export function budgetCard(tenant, budget, status, user) {
  const base = `/tenants/${encodeURIComponent(tenant)}/budgets/${encodeURIComponent(budget.id)}`;
  const forecast = status?.forecastedSpend;
  return h("article", { class: `card budget-card state-border-${status?.state || "ok"}`, dataset: { budget: budget.id }, "aria-labelledby": `b-${budget.id}` },
    h("div", { class: "card-head" }, h("h2", { id: `b-${budget.id}` }, h("a", { href: base }, budget.name)), status ? stateBadge(status.state) : null),
    h("p", { class: "hint" }, scopeWords(budget)),
    status ? [
      h("p", { class: "figures" },
        h("span", { class: "spent", dataset: { value: String(status.spent) } }, money(status.spent, status.currency)), " of ",
        h("span", { class: "amount" }, money(status.amount, status.currency)), " ",
        h("span", { class: "percent" }, `(${percent(status.percentUsed)})`),
        h("span", { class: "hint" }, ` · ${range(status.periodStart, status.periodEnd)}`)),
      gauge({ spent: status.spent, amount: status.amount, forecast, thresholds: thresholdMarks(budget), label: `${money(status.spent, status.currency)} spent of ${money(status.amount, status.currency)}${forecast !== null && forecast !== undefined ? `; forecast ${money(forecast, status.currency)} at period end` : ""}` }),
      h("p", { class: "hint" }, forecast !== null && forecast !== undefined ? `Forecast at period end: ${money(forecast, status.currency)} (${percent((forecast / status.amount) * 100)})${status.forecastBreachDate ? `, crossing the amount around ${longDay(status.forecastBreachDate)}` : ""}.` : "No forecast (made by the 02:00 UTC daily check for budgets that could run over)."),
      h("p", { class: "active-actions" }, h("strong", {}, "In effect: "), status.activeActions.length ? status.activeActions.map((a) => ACTIONS[a]).join(", ") : "nothing"),
    ] : h("p", { class: "hint" }, "No status: the budget has not started yet or was deleted."),
    h("ul", { class: "policy-words" }, policyInWords(budget.policy, budget.amount).map((line) => h("li", {}, line))),
    h("div", { class: "card-actions" },
      h("a", { href: base, class: "button small" }, "View", h("span", { class: "visually-hidden" }, ` ${budget.name}`)),
      user.canManage ? h("a", { href: `${base}/edit`, class: "button small" }, "Edit", h("span", { class: "visually-hidden" }, ` ${budget.name}`)) : null));
}

export async function budgetsView(ctx) {
  const { tenant, main, user } = ctx;
  ctx.title("Budgets");
  const grid = h("div", { class: "cards", "aria-busy": "true" }, [0, 1].map(() => h("div", { class: "card skeleton-card" })));
  const create = user.canManage ? h("a", { href: `/tenants/${encodeURIComponent(tenant)}/budgets/new`, class: "button primary", id: "new-budget" }, "New budget") : null;
  replace(main, pageHeader("Budgets", `Tenant ${tenant} · amounts in USD · periods follow the UTC calendar`, create), grid);
  const [list, statuses] = await Promise.all([
    api(`${budgetsBase}/budgets/tenant/${encodeURIComponent(tenant)}`),
    api(`${budgetsBase}/budgets/tenant/${encodeURIComponent(tenant)}/status`),
  ]);
  if (!ctx.alive()) return;
  const byId = Object.fromEntries(statuses.statuses.map((s) => [s.budgetId, s]));
  grid.removeAttribute("aria-busy");
  if (!list.budgets.length) {
    replace(grid, message("info", h("p", {}, h("strong", {}, "No budgets yet. ")),
      h("p", {}, "A budget watches spend over a period (a month, say): it e-mails its owners at one threshold and can rate-limit or block AI calls and exports at another."),
      user.canManage ? h("a", { href: `/tenants/${encodeURIComponent(tenant)}/budgets/new`, class: "button primary" }, "Create the first budget") : h("p", {}, "Only an admin of this tenant can create one.")));
    return;
  }
  replace(grid, list.budgets.map((b) => budgetCard(tenant, b, byId[b.id], user)));
}
