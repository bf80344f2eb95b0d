// Budget details: spend so far this period against the amount with the thresholds drawn, the forecast to the
// period's end, the policy in words, and the event timeline (the audit trail, newest first, paged).
import { api, budgetsBase } from "../api.js";
import { crossingDate, forgetSpend, periodForecast, periodSpend } from "../budget_spend.js";
import { timeChart } from "../chart.js";
import * as dates from "../dates.js";
import { h, message, panel, replace } from "../dom.js";
import { dateTime, day, longDay, money, percent, range } from "../format.js";
import { ACTIONS, policyInWords, stateBadge } from "../policy.js";
import { scopeWords } from "./budgets.js";
import { pageHeader } from "./common.js";

const EVENT_WORDS = {
  created: "Created",
  updated: "Changed",
  deleted: "Deleted",
  threshold_notify: "Notify threshold crossed",
  threshold_enforce: "Enforce threshold crossed: enforcement on",
  enforcement_lifted: "Enforcement lifted",
  period_rollover: "New period",
  forecast_exceeds: "Forecast to exceed the amount",
};
const SEVERITY_ICON = { info: "i", warning: "!", critical: "■" };
const PAGE = 20;

function changedValue(name, value) {
  if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
  if (value === null || value === undefined || value === "") return "none";
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k} ${changedValue(k, v)}`).join(", ");
  if (!Number.isNaN(Number(value)) && String(value).trim() !== "") return name === "amount" ? money(Number(value)) : String(Number(value));
  return String(value);
}

function eventDetails(event) {
  const parts = [];
  if (event.thresholdPercent !== null && event.thresholdPercent !== undefined) parts.push(`threshold ${percent(event.thresholdPercent, 0)}`);
  if (event.spent !== null && event.spent !== undefined) parts.push(`spent ${money(event.spent)}`);
  if (event.amount !== null && event.amount !== undefined) parts.push(`amount ${money(event.amount)}`);
  if (event.percentUsed !== null && event.percentUsed !== undefined) parts.push(`${percent(event.percentUsed)} used`);
  if (event.eventType === "updated") {
    for (const [name, change] of Object.entries(event.details || {})) {
      if (change && typeof change === "object" && "from" in change) parts.push(`${name}: ${changedValue(name, change.from)} → ${changedValue(name, change.to)}`);
    }
  } else if (event.eventType === "forecast_exceeds" && event.details) {
    const d = event.details;
    if (d.expectedSpend !== undefined) parts.push(`expected ${money(d.expectedSpend)}`);
    if (d.probability !== undefined) parts.push(`probability ${percent(Number(d.probability) * 100, 0)}`);
    if (d.breachDate) parts.push(`breach around ${longDay(d.breachDate)}`);
  }
  if (event.actor) parts.push(`by ${event.actor}`);
  parts.push(`via ${event.source}`);
  return parts.join(" · ");
}

function eventItem(event) {
  return h("li", { class: `event severity-${event.severity}`, dataset: { event: event.id, type: event.eventType } },
    h("span", { class: "event-icon", "aria-hidden": "true" }, SEVERITY_ICON[event.severity] || "·"),
    h("div", {}, h("div", {}, h("strong", {}, EVENT_WORDS[event.eventType] || event.eventType), h("span", { class: "hint" }, ` · ${event.severity} · `), h("time", { datetime: event.createdAt }, dateTime(event.createdAt))),
      h("div", { class: "hint" }, eventDetails(event))));
}

export async function budgetDetailView(ctx) {
  const { tenant, main, user, id } = ctx;
  ctx.title("Budget");
  forgetSpend();
  const base = `/tenants/${encodeURIComponent(tenant)}/budgets/${encodeURIComponent(id)}`;
  const [budget, status, firstPage] = await Promise.all([
    api(`${budgetsBase}/budgets/${encodeURIComponent(id)}`),
    api(`${budgetsBase}/budgets/${encodeURIComponent(id)}/status`).catch(() => null),
    api(`${budgetsBase}/budgets/${encodeURIComponent(id)}/events`, { query: { limit: PAGE } }),
  ]);
  if (!ctx.alive()) return;
  ctx.title(budget.name);
  const saved = ctx.query.get("saved");
  const historyPanel = panel("Spend this period against the amount", { id: "spend-history", height: 300 });
  const eventsPanel = panel("Event timeline", { id: "events", height: 160 });
  replace(main,
    pageHeader(budget.name, `${scopeWords(budget)} · version ${budget.version} · tenant ${tenant}`,
      status ? stateBadge(status.state) : null,
      user.canManage && !budget.deletedAt ? h("a", { href: `${base}/edit`, class: "button primary", id: "edit-budget" }, "Edit") : null,
      h("a", { href: `/tenants/${encodeURIComponent(tenant)}/budgets`, class: "button" }, "All budgets")),
    saved ? message("success", h("p", {}, `Saved: the budget is at version ${saved}.`)) : null,
    budget.deletedAt ? message("info", h("p", {}, `Deleted on ${dateTime(budget.deletedAt)}.`)) : null,
    status ? h("div", { class: "kpis" },
      h("div", { class: "kpi", dataset: { kpi: "spent" } }, h("div", { class: "kpi-label" }, "Spent this period"), h("div", { class: "kpi-value" }, money(status.spent, budget.currency)), h("div", { class: "kpi-detail" }, `${range(status.periodStart, status.periodEnd)}, as of ${dateTime(status.spendAsOf)}`)),
      h("div", { class: "kpi", dataset: { kpi: "amount" } }, h("div", { class: "kpi-label" }, "Amount"), h("div", { class: "kpi-value" }, money(status.amount, budget.currency)), h("div", { class: "kpi-detail" }, `${percent(status.percentUsed)} used · ${money(status.remaining, budget.currency)} left`)),
      h("div", { class: "kpi", dataset: { kpi: "forecast" } }, h("div", { class: "kpi-label" }, "Forecast at period end"), h("div", { class: "kpi-value", id: "forecast-value" }, status.forecastedSpend !== null && status.forecastedSpend !== undefined ? money(status.forecastedSpend, budget.currency) : "…"),
        h("div", { class: "kpi-detail", id: "forecast-detail" }, status.forecastExceedProbability !== null && status.forecastExceedProbability !== undefined ? `${percent(status.forecastExceedProbability * 100, 0)} chance of exceeding${status.forecastBreachDate ? `, around ${longDay(status.forecastBreachDate)}` : ""} (daily check)` : "")),
      h("div", { class: "kpi", dataset: { kpi: "actions" } }, h("div", { class: "kpi-label" }, "In effect"), h("div", { class: "kpi-value small" }, status.activeActions.length ? status.activeActions.map((a) => ACTIONS[a]).join(", ") : "Nothing"), h("div", { class: "kpi-detail" }, status.state === "ok" ? "under the notify threshold" : ""))) : null,
    historyPanel.section,
    h("section", { class: "panel", "aria-labelledby": "policy-title" }, h("div", { class: "panel-head" }, h("h2", { id: "policy-title" }, "Policy")),
      h("div", { class: "panel-body" }, h("ul", { class: "policy-words" }, policyInWords(budget.policy, budget.amount).map((line) => h("li", {}, line))),
        h("dl", { class: "facts" },
          h("dt", {}, "Period"), h("dd", {}, `${budget.period}, from ${longDay(budget.startDate)}`),
          h("dt", {}, "Watches"), h("dd", {}, scopeWords(budget)),
          h("dt", {}, "Owners' e-mails"), h("dd", {}, budget.policy.notifyEmails.join(", ") || "none"),
          h("dt", {}, "Admins' e-mails"), h("dd", {}, budget.policy.adminEmails.join(", ") || "none")))),
    eventsPanel.section);

  drawEvents(eventsPanel, id, firstPage);
  if (status) await drawHistory(historyPanel, { tenant, budget, status });
  else historyPanel.fill(h("p", { class: "hint" }, "No current period: the budget starts later or was deleted."));
}

function drawEvents(target, id, firstPage) {
  const items = h("ol", { class: "timeline", id: "event-list" });
  const more = h("button", { type: "button", id: "more-events" }, "Load older events");
  let cursor = firstPage.nextCursor;
  const add = (page) => {
    items.append(...page.events.map(eventItem));
    cursor = page.nextCursor;
    more.hidden = !cursor || page.events.length < PAGE;
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      add(await api(`${budgetsBase}/budgets/${encodeURIComponent(id)}/events`, { query: { limit: PAGE, cursor } }));
    } finally {
      more.disabled = false;
    }
  });
  add(firstPage);
  target.fill(firstPage.events.length ? items : h("p", { class: "hint" }, "No events yet."), more);
}

async function drawHistory(target, { tenant, budget, status }) {
  const now = dates.today();
  const period = [status.periodStart, status.periodEnd];
  const scope = { categories: budget.categories, models: budget.models, regions: budget.regions, services: budget.services, currency: budget.currency };
  const spend = await periodSpend(tenant, scope, period, now);
  const forecast = await periodForecast(tenant, scope, period, spend, budget.period, now);
  const periods = dates.eachDay(period[0], period[1]);
  // The status's figure is the service's own; the days are scaled to it so the last point matches exactly.
  const scale = spend.total > 0 ? status.spent / spend.total : 1;
  let running = 0;
  const cumulative = periods.map((d) => (d <= now ? (running += (spend.daily[d] || 0) * scale) : null));
  const todayIndex = periods.indexOf(now);
  const lines = [{ label: "Spent (cumulative)", color: "#1f5fa8", values: cumulative }];
  const errorBars = [];
  if (!forecast.refused) {
    let ahead = spend.throughYesterday * scale;
    const values = periods.map(() => null);
    const yesterday = periods.indexOf(dates.addDays(now, -1));
    if (yesterday >= 0) values[yesterday] = ahead;
    for (const point of forecast.points) {
      const i = periods.indexOf(point.date);
      ahead += point.value * scale;
      if (i >= 0) values[i] = ahead;
    }
    lines.push({ label: `Forecast (${forecast.method})`, color: "#555", dashed: true, values, note: "expected cumulative spend" });
    if (forecast.lower95 !== null) {
      errorBars.push({ index: periods.length - 1, lower: forecast.lower95 * scale, upper: forecast.upper95 * scale, color: "#999", label: `95% interval at period end: ${money(forecast.lower95 * scale, budget.currency)} – ${money(forecast.upper95 * scale, budget.currency)}` });
      errorBars.push({ index: periods.length - 1, lower: forecast.lower80 * scale, upper: forecast.upper80 * scale, color: "#555", label: `80% interval at period end: ${money(forecast.lower80 * scale, budget.currency)} – ${money(forecast.upper80 * scale, budget.currency)}` });
    }
    const value = document.getElementById("forecast-value");
    if (value && (status.forecastedSpend === null || status.forecastedSpend === undefined)) {
      value.textContent = money(forecast.expected * scale, budget.currency);
      const crossing = crossingDate(spend, forecast, budget.amount / scale);
      document.getElementById("forecast-detail").textContent = `${percent(((forecast.expected * scale) / budget.amount) * 100)} of the amount${forecast.lower80 !== null ? `; 80%: ${money(forecast.lower80 * scale, budget.currency)} – ${money(forecast.upper80 * scale, budget.currency)}` : ""}${crossing ? `; crosses it around ${longDay(crossing)}` : ""} (live forecast)`;
    }
  } else {
    const value = document.getElementById("forecast-value");
    if (value && value.textContent === "…") {
      value.textContent = "—";
      document.getElementById("forecast-detail").textContent = forecast.refused;
    }
  }
  const notify = (budget.amount * Number(budget.policy.notifyThreshold)) / 100;
  const rules = [{ value: budget.amount, label: "Amount", color: "#b00020" }, { value: notify, label: `Notify ${Number(budget.policy.notifyThreshold)}%`, color: "#b26a00", dash: "4 3" }];
  if (budget.policy.enforceThreshold !== null && budget.policy.enforceThreshold !== undefined && Number(budget.policy.enforceThreshold) !== 100) {
    rules.push({ value: (budget.amount * Number(budget.policy.enforceThreshold)) / 100, label: `Enforce ${Number(budget.policy.enforceThreshold)}%`, color: "#7a0019", dash: "2 2" });
  }
  const chart = h("div", { class: "chart" });
  target.fill(chart, h("p", { class: "hint" }, `Cumulative spend from ${day(period[0])}${todayIndex >= 0 ? " (today so far included)" : ""}; the amount and the thresholds as lines${Number(budget.policy.enforceThreshold) === 100 ? " (enforcement at 100%: the amount line)" : ""}${forecast.refused ? `; no forecast: ${forecast.refused}` : "; the forecast continues it to the period's end, with its 80% and 95% intervals there"}.`));
  timeChart(chart, { periods, lines, rules, errorBars, partial: -1, label: `Cumulative spend of ${budget.name} against its amount` });
}
