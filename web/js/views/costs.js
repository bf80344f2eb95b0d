// Cost explorer: group by a dimension, per day/week/month, filtered by category, over a preset or custom range;
// a stacked chart (top groups plus "Other"), the exact table beside it, and the API's own CSV.
import { ApiError, api, costsBase } from "../api.js";
import { colorFor, OTHER_COLOR, timeChart } from "../chart.js";
import * as dates from "../dates.js";
import { h, message, panel, replace } from "../dom.js";
import { CATEGORIES, categoryLabel, day, money, month, range } from "../format.js";
import { noDataMessage, pageHeader } from "./common.js";

const GROUPS = { category: "Category", subcategory: "Subcategory", model: "Model", region: "Region", service: "Service", source: "Source", chargeCategory: "Charge category" };
const GRANULARITIES = { daily: "Daily", weekly: "Weekly", monthly: "Monthly" };
const CHART_GROUPS = 8;

/** The view's settings from the URL, defaults filled in and unknown values dropped. */
export function readFilters(query) {
  const preset = dates.PRESETS[query.get("range")] ? query.get("range") : "30d";
  let [from, to] = dates.presetRange(preset);
  if (preset === "custom") [from, to] = [query.get("from") || from, query.get("to") || to];
  return {
    range: preset,
    from,
    to,
    groupBy: GROUPS[query.get("groupBy")] ? query.get("groupBy") : "category",
    granularity: GRANULARITIES[query.get("granularity")] ? query.get("granularity") : "daily",
    categories: (query.get("categories") || "").split(",").filter((c) => CATEGORIES.includes(c)),
  };
}

function select(id, label, options, value) {
  return [h("label", { for: id }, label), h("select", { id, name: id }, Object.entries(options).map(([v, text]) => h("option", { value: v, selected: v === value }, text)))];
}

const periodLabel = (granularity) => (granularity === "monthly" ? month : granularity === "weekly" ? (p) => `week of ${day(p)}` : day);

export async function costsView(ctx) {
  const { tenant, main } = ctx;
  ctx.title("Cost explorer");
  const filters = readFilters(ctx.query);
  const controls = h("form", { class: "filters", id: "cost-filters", "aria-label": "Cost explorer filters" },
    h("div", { class: "field" }, select("range", "Date range", dates.PRESETS, filters.range)),
    h("div", { class: "field custom-dates" },
      h("label", { for: "from" }, "From"), h("input", { id: "from", name: "from", type: "date", value: filters.from, disabled: filters.range !== "custom", "aria-describedby": "from-error" }),
      h("span", { class: "field-error", id: "from-error" })),
    h("div", { class: "field custom-dates" },
      h("label", { for: "to" }, "To"), h("input", { id: "to", name: "to", type: "date", value: filters.to, disabled: filters.range !== "custom", "aria-describedby": "to-error" }),
      h("span", { class: "field-error", id: "to-error" })),
    h("div", { class: "field" }, select("groupBy", "Group by", GROUPS, filters.groupBy)),
    h("div", { class: "field" }, select("granularity", "Granularity", GRANULARITIES, filters.granularity)),
    h("fieldset", { class: "field categories" }, h("legend", {}, "Categories (none ticked: all)"),
      CATEGORIES.map((c) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "categories", value: c, checked: filters.categories.includes(c) }), categoryLabel(c)))));
  const download = h("button", { type: "button", id: "download-csv", class: "primary" }, "Download CSV");
  const chartPanel = panel("Cost", { id: "cost-chart", height: 300 });
  const tablePanel = panel("Table", { id: "cost-table", height: 200 });
  const status = h("div", { role: "status", class: "hint" });
  replace(main, pageHeader("Cost explorer", `Tenant ${tenant} · amounts in USD · periods in UTC`, download), controls, status, chartPanel.section, tablePanel.section);

  const current = () => {
    const form = new FormData(controls);
    const chosen = {
      range: form.get("range"),
      groupBy: form.get("groupBy"),
      granularity: form.get("granularity"),
      categories: form.getAll("categories").join(","),
    };
    if (chosen.range === "custom") Object.assign(chosen, { from: form.get("from"), to: form.get("to") });
    return chosen;
  };
  controls.addEventListener("change", (event) => {
    if (event.target.name === "range") {
      const custom = event.target.value === "custom";
      for (const input of controls.querySelectorAll(".custom-dates input")) input.disabled = !custom;
    }
    ctx.setQuery(current());
    load();
  });
  controls.addEventListener("submit", (event) => event.preventDefault());

  const query = (f) => ({ tenantId: tenant, from: f.from, to: f.to, groupBy: f.groupBy, granularity: f.granularity, categories: f.categories.join(",") || undefined });
  download.addEventListener("click", async () => {
    const f = readFilters(ctx.query);
    download.disabled = true;
    try {
      const csv = await api(`${costsBase}/costs`, { query: { ...query(f), format: "csv" }, accept: "text/csv" });
      const link = h("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })), download: `costs-${tenant}-${f.from}-${f.to}-${f.groupBy}-${f.granularity}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (error) {
      status.textContent = error.message;
    } finally {
      download.disabled = false;
    }
  });

  let loads = 0;
  async function load() {
    const mine = ++loads;
    const f = readFilters(ctx.query);
    for (const el of controls.querySelectorAll(".field-error")) el.textContent = "";
    status.textContent = "Loading…";
    let reply;
    try {
      reply = await api(`${costsBase}/costs`, { query: query(f) });
    } catch (error) {
      if (mine !== loads) return;
      if (error instanceof ApiError && error.status === 422) {
        // Next to the date field the API names, when it names one.
        const fields = error.errors.map((d) => d.loc?.[d.loc.length - 1]).filter((n) => n === "from" || n === "to");
        for (const name of fields.length ? fields : ["from"]) controls.querySelector(`#${name}-error`).textContent = error.errors.map((d) => d.msg).join("; ") || error.detail || error.message;
        status.textContent = "Fix the dates to see costs.";
        return;
      }
      status.textContent = "";
      replace(chartPanel.body, message("error", h("p", {}, error.message)));
      replace(tablePanel.body);
      return;
    }
    if (mine !== loads || !ctx.alive()) return;
    status.textContent = `${money(reply.total)} in total, ${range(reply.from, reply.to)}${f.categories.length ? `, ${f.categories.map(categoryLabel).join(", ")} only` : ""}.`;
    draw(reply, f);
  }

  function draw(reply, f) {
    const now = dates.today();
    const periods = [...new Set(f.granularity === "daily" ? [...dates.eachDay(reply.from, reply.to), ...reply.rows.map((r) => r.period)] : reply.rows.map((r) => r.period))].sort();
    const index = Object.fromEntries(periods.map((p, i) => [p, i]));
    const totals = new Map();
    for (const r of reply.rows) totals.set(r.key ?? "", (totals.get(r.key ?? "") || 0) + r.cost);
    const groups = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a) || a.localeCompare(b));
    const label = (key) => (f.groupBy === "category" ? categoryLabel(key) : key || "(none)");
    const cells = new Map(groups.map((g) => [g, periods.map(() => null)]));
    for (const r of reply.rows) {
      const row = cells.get(r.key ?? "");
      row[index[r.period]] = (row[index[r.period]] || 0) + r.cost;
    }
    // The period holding today is partial: only its spend so far.
    let partial = -1;
    if (reply.to >= now) partial = periods.reduce((found, p, i) => (p <= now ? i : found), -1);
    const shownGroups = groups.length > CHART_GROUPS + 1 ? groups.slice(0, CHART_GROUPS) : groups;
    const stacks = shownGroups.map((g, i) => ({ key: g, label: label(g), color: colorFor(g, i), values: cells.get(g).map((v) => v || 0) }));
    if (shownGroups.length < groups.length) {
      const rest = groups.slice(CHART_GROUPS);
      stacks.push({ key: "Other", label: `Other (${rest.length})`, color: OTHER_COLOR, values: periods.map((_, i) => rest.reduce((s, g) => s + (cells.get(g)[i] || 0), 0)) });
    }
    if (!reply.rows.length) {
      chartPanel.fill(noDataMessage(tenant));
      tablePanel.fill(h("p", { class: "hint" }, "No rows."));
      return;
    }
    const chart = h("div", { class: "chart" });
    chartPanel.fill(chart);
    timeChart(chart, { periods, stacks, partial, formatX: periodLabel(f.granularity), label: `${GRANULARITIES[f.granularity]} cost by ${GROUPS[f.groupBy].toLowerCase()}` });
    const formatPeriod = periodLabel(f.granularity);
    const periodTotals = periods.map((_, i) => groups.reduce((s, g) => s + (cells.get(g)[i] || 0), 0));
    const cellTitle = (g, i) => `${label(g)} · ${formatPeriod(periods[i])}${i === partial ? " · includes today so far (live events)" : " · aggregated daily facts"}`;
    tablePanel.fill(
      h("p", { class: "hint" }, `${groups.length} ${GROUPS[f.groupBy].toLowerCase()} value${groups.length === 1 ? "" : "s"} × ${periods.length} period${periods.length === 1 ? "" : "s"}; the CSV has the same rows, one per period and value.`),
      h("div", { class: "table-wrap scroll-x", tabindex: "0", role: "region", "aria-label": "Cost table, scrolls sideways" },
        h("table", { class: "data pivot", id: "costs-table" },
          h("caption", { class: "visually-hidden" }, `Cost by ${GROUPS[f.groupBy].toLowerCase()} and ${f.granularity} period, USD`),
          h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "sticky" }, GROUPS[f.groupBy]), h("th", { scope: "col", class: "num" }, "Total"),
            periods.map((p, i) => h("th", { scope: "col", class: `num${i === partial ? " partial" : ""}`, dataset: { period: p } }, formatPeriod(p), i === partial ? h("span", { class: "hint" }, " (so far)") : null)))),
          h("tbody", {}, groups.map((g) => h("tr", { dataset: { key: g } },
            h("th", { scope: "row", class: "sticky" }, label(g)),
            h("td", { class: "num total", dataset: { value: String(totals.get(g)) } }, money(totals.get(g))),
            cells.get(g).map((v, i) => h("td", { class: "num", title: cellTitle(g, i), dataset: { period: periods[i] } }, v === null ? "–" : money(v)))))),
          h("tfoot", {}, h("tr", {}, h("th", { scope: "row", class: "sticky" }, "Total"), h("td", { class: "num total", id: "grand-total" }, money(reply.total)),
            periodTotals.map((v, i) => h("td", { class: "num", dataset: { period: periods[i] } }, money(v))))))));
  }

  await load();
}

