// Overview: month to date, run rate and the month's forecast against the budgets; the daily trend by category
// (today so far, hatched) with the forecast to month end; the top 5 drivers; open anomalies with acknowledge.
import { ApiError, api, budgetsBase, costsBase } from "../api.js";
import { colorFor, gauge, timeChart } from "../chart.js";
import * as dates from "../dates.js";
import { h, message, panel, replace } from "../dom.js";
import { CATEGORIES, categoryLabel, change, day, money, month, percent, range } from "../format.js";
import { stateBadge, thresholdMarks } from "../policy.js";
import { acknowledgeCell, anomalySummary, noDataMessage, pageHeader, severityBadge } from "./common.js";

const SEVERITIES = ["high", "medium", "low"];

function kpi(label, value, detail, testId) {
  return h("div", { class: "kpi", dataset: { kpi: testId } }, h("div", { class: "kpi-label" }, label), h("div", { class: "kpi-value" }, value), h("div", { class: "kpi-detail" }, detail));
}

/** The forecast may be refused (too little history): that is a message on the screen, not an error. */
async function forecastOrReason(tenant, horizonDays) {
  try {
    return await api(`${costsBase}/forecast`, { query: { tenantId: tenant, horizonDays } });
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) return { refused: error.message };
    throw error;
  }
}

export async function overviewView(ctx) {
  const { tenant, main, user } = ctx;
  ctx.title("Overview");
  const now = dates.today();
  const yesterday = dates.addDays(now, -1);
  const last30 = [dates.addDays(now, -29), now];
  const start = dates.monthStart(now);
  const end = dates.monthEnd(now);
  const chartFrom = start < last30[0] ? start : last30[0];
  const explorer = `/tenants/${encodeURIComponent(tenant)}/costs?range=30d&groupBy=category&granularity=daily`;

  const kpis = h("div", { class: "kpis", "aria-busy": "true" }, [0, 1, 2, 3].map(() => h("div", { class: "kpi skeleton-kpi" })));
  const budgetsPanel = panel(`${month(now)} against budgets`, { id: "month-budgets", height: 90 });
  const trend = panel("Daily cost by category, last 30 days, and the forecast to month end", { id: "trend", height: 300, actions: h("a", { href: explorer }, "Table and CSV in the cost explorer") });
  const drivers = panel("Top 5 drivers, last 30 days", { id: "drivers", height: 180 });
  const anomalies = panel("Open anomalies, last 30 days", { id: "open-anomalies", height: 120, actions: h("a", { href: `/tenants/${encodeURIComponent(tenant)}/anomalies` }, "All anomalies") });
  const notice = h("div");
  replace(main, pageHeader("Overview", `Tenant ${tenant} · amounts in USD · days in UTC · today (${day(now)}) counts its spend so far`),
    notice, kpis, budgetsPanel.section, trend.section, h("div", { class: "columns" }, drivers.section, anomalies.section));

  const [summary, daily, forecast, statuses, budgets, found] = await Promise.all([
    api(`${costsBase}/costs/summary`, { query: { tenantId: tenant, from: last30[0], to: now } }),
    api(`${costsBase}/costs`, { query: { tenantId: tenant, from: chartFrom, to: now, groupBy: "category", granularity: "daily" } }),
    forecastOrReason(tenant, dates.daysBetween(now, end) + 1),
    api(`${budgetsBase}/budgets/tenant/${encodeURIComponent(tenant)}/status`),
    api(`${budgetsBase}/budgets/tenant/${encodeURIComponent(tenant)}`),
    // Up to yesterday: today is not over, so a low "so far" is not a drop.
    api(`${costsBase}/anomalies`, { query: { tenantId: tenant, from: dates.addDays(now, -30), to: yesterday } }),
  ]);
  if (!ctx.alive()) return;

  const mtd = summary.monthToDate;
  const completeThisMonth = daily.rows.filter((r) => r.period >= start && r.period < now).reduce((sum, r) => sum + r.cost, 0);
  const monthForecast = forecast.refused ? null : {
    value: completeThisMonth + forecast.total.value,
    lower80: completeThisMonth + forecast.total.lower80,
    upper80: completeThisMonth + forecast.total.upper80,
    lower95: completeThisMonth + forecast.total.lower95,
    upper95: completeThisMonth + forecast.total.upper95,
  };
  if (summary.total === 0 && mtd.total === 0) replace(notice, noDataMessage(tenant));

  kpis.removeAttribute("aria-busy");
  replace(kpis,
    kpi("Month to date", money(mtd.total), `${range(mtd.from, mtd.to)}, today so far included`, "mtd"),
    kpi("Run rate", money(mtd.runRate), `month to date spread over ${mtd.daysInMonth} days`, "run-rate"),
    monthForecast
      ? kpi(`${month(now)} forecast`, money(monthForecast.value), `80%: ${money(monthForecast.lower80)} – ${money(monthForecast.upper80)} · 95%: ${money(monthForecast.lower95)} – ${money(monthForecast.upper95)}`, "forecast")
      : kpi(`${month(now)} forecast`, "—", forecast.refused, "forecast"),
    kpi("Last 30 days", money(summary.total), `${change(summary.changePercent)} vs ${range(summary.previousPeriod.from, summary.previousPeriod.to)} (${money(summary.previousPeriod.total)})`, "last30"));

  drawBudgets(budgetsPanel, { tenant, user, mtd, monthForecast, statuses: statuses.statuses, budgets: budgets.budgets });
  drawTrend(trend, { daily, forecast, chartFrom, end, now });
  drawDrivers(drivers, summary);
  drawAnomalies(anomalies, found.anomalies, user, tenant);
}

function drawBudgets(target, { tenant, user, mtd, monthForecast, statuses, budgets }) {
  const byId = Object.fromEntries(budgets.map((b) => [b.id, b]));
  // Budgets over the whole tenant for the calendar month compare directly with the tenant's forecast.
  const tenantWide = budgets.filter((b) => b.period === "monthly" && !b.categories.length && !b.models.length && !b.regions.length && !b.services.length);
  const rows = [];
  rows.push(h("div", { class: "budget-row", dataset: { row: "tenant" } },
    h("div", { class: "budget-row-head" }, h("strong", {}, "All spend this month"),
      h("span", { class: "hint" }, monthForecast ? ` ${money(mtd.total)} so far · forecast ${money(monthForecast.value)} (80%: ${money(monthForecast.lower80)} – ${money(monthForecast.upper80)})` : ` ${money(mtd.total)} so far · no forecast`)),
    gauge({
      spent: mtd.total,
      amount: tenantWide.length ? Math.min(...tenantWide.map((b) => b.amount)) : null,
      forecast: monthForecast?.value,
      forecastLow: monthForecast?.lower95,
      forecastHigh: monthForecast?.upper95,
      thresholds: tenantWide.map((b) => ({ value: b.amount, label: b.name, kind: "amount" })),
      label: `Month to date ${money(mtd.total)}${monthForecast ? `, forecast ${money(monthForecast.value)}` : ""}`,
    })));
  for (const status of statuses) {
    const budget = byId[status.budgetId];
    rows.push(h("div", { class: "budget-row", dataset: { row: status.budgetId } },
      h("div", { class: "budget-row-head" },
        h("a", { href: `/tenants/${encodeURIComponent(tenant)}/budgets/${encodeURIComponent(status.budgetId)}` }, status.name), " ", stateBadge(status.state),
        h("span", { class: "hint" }, ` ${money(status.spent, status.currency)} of ${money(status.amount, status.currency)} (${percent(status.percentUsed)})${status.forecastedSpend !== null && status.forecastedSpend !== undefined ? ` · forecast ${money(status.forecastedSpend, status.currency)}` : ""} · ${range(status.periodStart, status.periodEnd)}`)),
      gauge({
        spent: status.spent,
        amount: status.amount,
        forecast: status.forecastedSpend,
        thresholds: budget ? thresholdMarks(budget) : [],
        label: `${status.name}: ${money(status.spent, status.currency)} of ${money(status.amount, status.currency)}`,
      })));
  }
  if (!statuses.length) {
    rows.push(message("info", h("p", {}, "No budgets yet. A budget alerts its owners before spend runs over, and can block AI calls or exports past its limit. "),
      user.canManage ? h("a", { href: `/tenants/${encodeURIComponent(tenant)}/budgets/new`, class: "button primary" }, "Create a budget") : h("span", {}, "Ask an admin of this tenant to create one.")));
  }
  target.fill(...rows);
}

function drawTrend(target, { daily, forecast, chartFrom, end, now }) {
  const periods = dates.eachDay(chartFrom, end);
  const index = Object.fromEntries(periods.map((p, i) => [p, i]));
  const present = CATEGORIES.filter((c) => daily.rows.some((r) => r.key === c));
  const stacks = present.map((key, i) => {
    const values = periods.map((p) => (p <= now ? 0 : null));
    for (const r of daily.rows) if (r.key === key && index[r.period] !== undefined) values[index[r.period]] += r.cost;
    return { key, label: categoryLabel(key), color: colorFor(key, i), values };
  });
  const lines = [];
  if (!forecast.refused) {
    const values = periods.map(() => null);
    const bands = { lower80: [...values], upper80: [...values], lower95: [...values], upper95: [...values] };
    const yesterday = index[dates.addDays(now, -1)];
    if (yesterday !== undefined) {
      const actual = daily.rows.filter((r) => r.period === periods[yesterday]).reduce((s, r) => s + r.cost, 0);
      values[yesterday] = actual;
      for (const k of Object.keys(bands)) bands[k][yesterday] = actual;
    }
    for (const point of forecast.points) {
      const i = index[point.date];
      if (i === undefined) continue;
      values[i] = point.value;
      for (const k of Object.keys(bands)) bands[k][i] = point[k];
    }
    lines.push({
      label: "Forecast (all categories)",
      color: "#333",
      dashed: true,
      values,
      note: `${forecast.method} method`,
      bands: [
        { lower: bands.lower95, upper: bands.upper95, opacity: 0.12, label: "95% interval" },
        { lower: bands.lower80, upper: bands.upper80, opacity: 0.2, label: "80% interval" },
      ],
    });
  }
  const chart = h("div", { class: "chart" });
  target.fill(chart, forecast.refused ? h("p", { class: "hint" }, `No forecast line: ${forecast.refused}`) : h("p", { class: "hint" }, `Forecast: ${forecast.method} method, shaded 80% and 95% intervals; its backtest error on this tenant (sMAPE) is ${percent(forecast.accuracy.smape)}.`));
  timeChart(chart, { periods, stacks, lines, partial: index[now], label: "Daily cost by category with the forecast to month end" });
}

function drawDrivers(target, summary) {
  if (!summary.topDrivers.length) {
    target.fill(h("p", { class: "hint" }, "No spend in the last 30 days."));
    return;
  }
  const baseline = `vs ${range(summary.previousPeriod.from, summary.previousPeriod.to)}`;
  target.fill(h("p", { class: "hint" }, `Change ${baseline}.`), h("div", { class: "table-wrap scroll-x" }, h("table", { class: "data", id: "drivers-table" },
    h("caption", { class: "visually-hidden" }, `Top drivers of the last 30 days, change ${baseline}`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Driver"), h("th", { scope: "col", class: "num" }, "Cost"), h("th", { scope: "col", class: "num" }, "Share"), h("th", { scope: "col", class: "num" }, "Change"))),
    h("tbody", {}, summary.topDrivers.map((d) => h("tr", { dataset: { key: `${d.dimension}:${d.key}` } },
      h("th", { scope: "row" }, h("span", { class: "dim" }, d.dimension), " ", d.dimension === "category" ? categoryLabel(d.key) : d.key),
      h("td", { class: "num" }, money(d.cost)),
      h("td", { class: "num" }, percent(d.share * 100)),
      h("td", { class: "num", title: `previous: ${money(d.previousCost)}` }, change(d.changePercent))))))));
}

function drawAnomalies(target, anomalies, user, tenant) {
  const counts = h("ul", { class: "severity-counts", "aria-label": "Open anomalies by severity" });
  const list = h("ul", { class: "anomaly-list" });
  const redraw = () => {
    const open = anomalies.filter((a) => !a.acknowledged);
    replace(counts, SEVERITIES.map((s) => h("li", { dataset: { severity: s } }, severityBadge(s), " ", h("span", { class: "count" }, String(open.filter((a) => a.severity === s).length)))));
    const shown = open.sort((a, b) => Math.abs(b.impact) - Math.abs(a.impact)).slice(0, 5);
    replace(list, shown.length ? shown.map((a) => h("li", { dataset: { anomaly: a.id } }, severityBadge(a.severity), " ", h("span", {}, anomalySummary(a)), " ",
      acknowledgeCell(a, user, (updated) => { Object.assign(a, updated); redraw(); }))) : h("li", { class: "hint" }, "Nothing open. Anomalies are detected daily at 03:00 UTC and on every read."));
  };
  redraw();
  target.fill(counts, list, anomalies.length ? null : h("p", { class: "hint" }, `No anomalies for ${tenant} in the last 30 days.`));
}
