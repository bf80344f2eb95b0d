// Anomalies: spikes and drops by day and category, with severity, expected vs actual, impact and the drivers
// that moved most; admins acknowledge them with a note (it sticks: the service stores it).
import { api, costsBase } from "../api.js";
import * as dates from "../dates.js";
import { h, message, panel, replace } from "../dom.js";
import { CATEGORIES, categoryLabel, change, longDay, money, range } from "../format.js";
import { acknowledgeCell, directionText, pageHeader, rootCauseText, severityBadge } from "./common.js";

const RANGES = { "30d": "Last 30 days", "90d": "Last 90 days", mtd: "Month to date", lastmonth: "Last month" };
const CHOICES = {
  severity: { "": "Any severity", high: "High", medium: "Medium", low: "Low" },
  direction: { "": "Spikes and drops", up: "Spikes", down: "Drops" },
  category: { "": "All categories", ...Object.fromEntries(CATEGORIES.map((c) => [c, categoryLabel(c)])) },
  status: { open: "Open", all: "Open and acknowledged" },
};
const LABELS = { range: "Date range", severity: "Severity", direction: "Direction", category: "Category", status: "Status" };

function readFilters(query) {
  const pick = (name, options, fallback) => (Object.hasOwn(options, query.get(name) ?? "\u0000") ? query.get(name) : fallback);
  return {
    range: pick("range", RANGES, "90d"),
    severity: pick("severity", CHOICES.severity, ""),
    direction: pick("direction", CHOICES.direction, ""),
    category: pick("category", CHOICES.category, ""),
    status: pick("status", CHOICES.status, "open"),
  };
}

export async function anomaliesView(ctx) {
  const { tenant, main, user } = ctx;
  ctx.title("Anomalies");
  const filters = readFilters(ctx.query);
  const controls = h("form", { class: "filters", id: "anomaly-filters", "aria-label": "Anomaly filters" },
    Object.entries({ range: RANGES, ...CHOICES }).map(([name, options]) => h("div", { class: "field" }, h("label", { for: name }, LABELS[name]),
      h("select", { id: name, name }, Object.entries(options).map(([value, text]) => h("option", { value, selected: value === filters[name] }, text))))));
  const results = panel("Anomalies", { id: "anomalies", height: 240 });
  replace(main, pageHeader("Anomalies", `Tenant ${tenant} · amounts in USD · days in UTC, up to yesterday (today is not over yet)`), controls, results.section);
  controls.addEventListener("change", () => {
    const form = new FormData(controls);
    ctx.setQuery(Object.fromEntries(form.entries()));
    load().catch((error) => results.fill(message("error", h("p", {}, error.message))));
  });

  async function load() {
    const f = readFilters(ctx.query);
    const yesterday = dates.addDays(dates.today(), -1);
    let [from, to] = dates.presetRange(f.range);
    if (to > yesterday) to = yesterday;
    if (from > to) from = to;
    const reply = await api(`${costsBase}/anomalies`, { query: { tenantId: tenant, from, to, severity: f.severity, direction: f.direction, category: f.category } });
    if (!ctx.alive()) return;
    const rows = reply.anomalies.filter((a) => f.status === "all" || !a.acknowledged).sort((a, b) => b.date.localeCompare(a.date) || Math.abs(b.impact) - Math.abs(a.impact));
    if (!rows.length) {
      results.fill(message("info", h("p", {}, `No ${f.status === "open" ? "open " : ""}anomalies ${range(from, to)}${reply.anomalies.length ? ` (${reply.anomalies.length} acknowledged: choose "Open and acknowledged" to see them)` : ""}.`),
        h("p", {}, "A day is reported when its spend in a category is unusual for that series and differs from the expected by at least the configured minimum.")));
      return;
    }
    const body = h("tbody", {});
    // data-label: on a phone each row becomes a card whose cells name themselves.
    const cell = (label, attrs, ...content) => h(attrs.scope ? "th" : "td", { ...attrs, dataset: { label } }, ...content);
    const rowFor = (a) => h("tr", { dataset: { anomaly: a.id } },
      cell("Date", {}, longDay(a.date)),
      cell("Category", { scope: "row" }, categoryLabel(a.category)),
      cell("Direction", {}, directionText(a)),
      cell("Severity", {}, severityBadge(a.severity)),
      cell("Expected", { class: "num" }, money(a.expected)),
      cell("Actual", { class: "num" }, money(a.actual)),
      cell("Impact", { class: "num" }, money(a.impact)),
      cell("Deviation", { class: "num" }, change(a.deviationPercent)),
      cell("Root cause", { class: "root-cause" }, rootCauseText(a)),
      cell("Status", {}, acknowledgeCell(a, user, (updated) => body.replaceChild(rowFor({ ...a, ...updated }), body.querySelector(`tr[data-anomaly="${CSS.escape(a.id)}"]`)))));
    body.append(...rows.map(rowFor));
    results.fill(h("p", { class: "hint" }, `${rows.length} anomal${rows.length === 1 ? "y" : "ies"}, ${range(from, to)} (${reply.method} method).`),
      h("div", { class: "table-wrap scroll-x", tabindex: "0", role: "region", "aria-label": "Anomalies table, scrolls sideways" },
        h("table", { class: "data phone-cards", id: "anomalies-table" },
          h("caption", { class: "visually-hidden" }, "Anomalies, newest first"),
          h("thead", {}, h("tr", {}, ["Date", "Category", "Direction", "Severity"].map((t) => h("th", { scope: "col" }, t)),
            ["Expected", "Actual", "Impact", "Deviation"].map((t) => h("th", { scope: "col", class: "num" }, t)),
            h("th", { scope: "col" }, "Root cause (drivers that moved most)"), h("th", { scope: "col" }, "Status"))),
          body)));
  }
  await load();
}
