// SVG charts drawn from plain arrays: stacked bars per period (negative values stack below zero), lines with
// shaded interval bands, horizontal rules (budget amount, thresholds) and a legend that toggles series.
// Every bar and point has a <title> (hover shows the period, the series and the amount); the table beside
// each chart is the accessible, exact form of the same numbers.
import { h, svg, replace } from "./dom.js";
import { day, money, moneyShort } from "./format.js";

const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#e15759", "#9c755f", "#ff9da7", "#17becf"];
const CATEGORY_COLORS = { AI: "#4e79a7", COMPUTE: "#f28e2b", STORAGE: "#59a14f", EXPORT: "#b07aa1", EGRESS: "#76b7b2", OTHER: "#9c755f" };
export const OTHER_COLOR = "#a0a0a0";
export const colorFor = (key, index) => CATEGORY_COLORS[key] || (key === "Other" ? OTHER_COLOR : PALETTE[index % PALETTE.length]);

let chartCount = 0;

function niceStep(span, count) {
  const raw = span / Math.max(count, 1);
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10) * power;
}

function extent(spec, hidden) {
  let top = 0;
  let bottom = 0;
  spec.periods.forEach((_, i) => {
    let up = 0;
    let down = 0;
    for (const s of spec.stacks || []) {
      if (hidden.has(s.label)) continue;
      const v = s.values[i] || 0;
      if (v >= 0) up += v;
      else down += v;
    }
    top = Math.max(top, up);
    bottom = Math.min(bottom, down);
  });
  for (const line of spec.lines || []) {
    if (hidden.has(line.label)) continue;
    for (const series of [line.values, ...(line.bands || []).flatMap((b) => [b.lower, b.upper])]) {
      for (const v of series) if (v !== null && v !== undefined) [top, bottom] = [Math.max(top, v), Math.min(bottom, v)];
    }
  }
  for (const rule of spec.rules || []) top = Math.max(top, rule.value);
  for (const bar of spec.errorBars || []) top = Math.max(top, bar.upper);
  return [bottom, top > bottom ? top : bottom + 1];
}

function draw(container, spec, hidden, id) {
  const width = Math.max(container.clientWidth || 600, 280);
  const height = spec.height || 260;
  const margin = { left: 64, right: 12, top: 14, bottom: 30 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const [lo, hi] = extent(spec, hidden);
  const step = niceStep(hi - lo, 5);
  const yMin = Math.floor(lo / step) * step;
  const yMax = Math.ceil(hi / step) * step;
  const y = (v) => margin.top + plotH - ((v - yMin) / (yMax - yMin)) * plotH;
  const n = spec.periods.length;
  const band = plotW / Math.max(n, 1);
  const x = (i) => margin.left + band * i + band / 2;
  const barW = Math.max(1, Math.min(band * 0.72, 48));
  const formatX = spec.formatX || day;

  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": spec.label, class: "chart-svg" });
  root.append(
    svg("defs", {}, svg("pattern", { id: `${id}-hatch`, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
      svg("rect", { width: 6, height: 6, fill: "#fff", "fill-opacity": 0.35 }),
      svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#fff", "stroke-width": 3 }))),
  );
  // Grid and money axis.
  for (let v = yMin; v <= yMax + step / 2; v += step) {
    root.append(
      svg("line", { x1: margin.left, x2: width - margin.right, y1: y(v), y2: y(v), class: v === 0 ? "axis-zero" : "grid" }),
      svg("text", { x: margin.left - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, moneyShort(v)),
    );
  }
  // Period labels, thinned to fit.
  const every = Math.max(1, Math.ceil(70 / band));
  spec.periods.forEach((p, i) => {
    if (i % every === 0 || i === n - 1) {
      if (i !== n - 1 && n - 1 - i < every) return;
      // The last label ends at the plot's edge rather than running past it.
      const last = i === n - 1 && band < 70;
      root.append(svg("text", { x: last ? width - margin.right : x(i), y: height - 10, class: "tick", "text-anchor": last ? "end" : "middle" }, formatX(p)));
    }
  });
  // Bands under everything else, lightest first.
  for (const line of spec.lines || []) {
    if (hidden.has(line.label)) continue;
    for (const bandSpec of line.bands || []) {
      const points = [];
      bandSpec.upper.forEach((v, i) => v !== null && points.push([x(i), y(v)]));
      const lower = [];
      bandSpec.lower.forEach((v, i) => v !== null && lower.push([x(i), y(v)]));
      if (!points.length) continue;
      const d = `M${points.map((p) => p.join(",")).join("L")}L${lower.reverse().map((p) => p.join(",")).join("L")}Z`;
      root.append(svg("path", { d, fill: line.color, "fill-opacity": bandSpec.opacity, class: "band" }, svg("title", {}, bandSpec.label)));
    }
  }
  // Stacked bars.
  spec.periods.forEach((period, i) => {
    let up = 0;
    let down = 0;
    const partial = i === spec.partial;
    for (const s of spec.stacks || []) {
      const v = s.values[i];
      if (hidden.has(s.label) || !v) continue;
      const [from, to] = v >= 0 ? [up, (up += v)] : [down, (down += v)];
      const top = y(Math.max(from, to));
      const rectHeight = Math.max(Math.abs(y(from) - y(to)), 0.5);
      const note = partial ? " (today so far, partial)" : "";
      const title = `${s.label} · ${formatX(period)}${note}: ${money(v)}${s.source ? ` · ${s.source}` : ""}`;
      root.append(
        svg("rect", { x: x(i) - barW / 2, y: top, width: barW, height: rectHeight, fill: s.color, class: "bar", dataset: { key: s.key, period, value: String(v) } },
          svg("title", {}, title)),
      );
      if (partial) root.append(svg("rect", { x: x(i) - barW / 2, y: top, width: barW, height: rectHeight, fill: `url(#${id}-hatch)`, class: "hatch", "pointer-events": "none" }));
    }
  });
  if (spec.partial >= 0 && spec.partial < n && (spec.stacks || []).length) {
    root.append(svg("text", { x: x(spec.partial), y: margin.top - 2, class: "tick partial-label", "text-anchor": "middle" }, "so far"));
  }
  // Lines and their points.
  for (const line of spec.lines || []) {
    if (hidden.has(line.label)) continue;
    const pts = line.values.map((v, i) => (v === null || v === undefined ? null : [x(i), y(v), v, i])).filter(Boolean);
    if (!pts.length) continue;
    root.append(svg("path", { d: `M${pts.map((p) => `${p[0]},${p[1]}`).join("L")}`, stroke: line.color, fill: "none", "stroke-width": 2, "stroke-dasharray": line.dashed ? "5 4" : null, class: "line" }));
    for (const [px, py, v, i] of pts) {
      root.append(svg("circle", { cx: px, cy: py, r: 2.5, fill: line.color, class: "point", dataset: { key: line.label, period: spec.periods[i], value: String(v) } },
        svg("title", {}, `${line.label} · ${formatX(spec.periods[i])}: ${money(v)}${line.note ? ` (${line.note})` : ""}`)));
    }
  }
  for (const bar of spec.errorBars || []) {
    const cx = x(bar.index);
    root.append(svg("g", { class: "error-bar" },
      svg("line", { x1: cx, x2: cx, y1: y(bar.lower), y2: y(bar.upper), stroke: bar.color, "stroke-width": 2 }),
      svg("line", { x1: cx - 5, x2: cx + 5, y1: y(bar.lower), y2: y(bar.lower), stroke: bar.color, "stroke-width": 2 }),
      svg("line", { x1: cx - 5, x2: cx + 5, y1: y(bar.upper), y2: y(bar.upper), stroke: bar.color, "stroke-width": 2 }),
      svg("title", {}, bar.label)));
  }
  for (const rule of spec.rules || []) {
    root.append(
      svg("line", { x1: margin.left, x2: width - margin.right, y1: y(rule.value), y2: y(rule.value), stroke: rule.color, "stroke-width": 1.5, "stroke-dasharray": rule.dash || null, class: "rule" },
        svg("title", {}, `${rule.label}: ${money(rule.value)}`)),
      svg("text", { x: width - margin.right - 4, y: y(rule.value) - 4, class: "rule-label", "text-anchor": "end", fill: rule.color }, `${rule.label} ${moneyShort(rule.value)}`),
    );
  }
  return root;
}

/** Draws `spec` into `container` (and again on resize); returns nothing useful, the DOM is the output. */
export function timeChart(container, spec) {
  const id = `chart${++chartCount}`;
  const hidden = new Set();
  const figure = h("div", { class: "chart-area" });
  const toggles = [...(spec.stacks || []), ...(spec.lines || [])].map((series) =>
    h("button", {
      type: "button",
      class: "legend-item",
      "aria-pressed": "true",
      onclick: (event) => {
        const shown = hidden.has(series.label);
        if (shown) hidden.delete(series.label);
        else hidden.add(series.label);
        event.currentTarget.setAttribute("aria-pressed", String(shown));
        render();
      },
    }, h("span", { class: `swatch${series.values && spec.lines?.includes(series) ? " swatch-line" : ""}`, "aria-hidden": "true", dataset: { color: series.color } }), series.label),
  );
  for (const button of toggles) button.firstChild.style.background = button.firstChild.dataset.color;
  const legend = h("div", { class: "legend", role: "group", "aria-label": "Show or hide series" }, toggles,
    spec.partial >= 0 && spec.partial < spec.periods.length ? h("span", { class: "legend-note" }, h("span", { class: "swatch swatch-hatch", "aria-hidden": "true" }), "hatched: today so far (partial day)") : null);
  replace(container, figure, legend);
  let lastWidth = 0;
  const render = () => {
    lastWidth = container.clientWidth;
    replace(figure, draw(figure, spec, hidden, id));
  };
  render();
  new ResizeObserver(() => {
    if (Math.abs(container.clientWidth - lastWidth) > 4) render();
  }).observe(container);
}

/** A horizontal bar against a scale: spend (solid), forecast (marker and interval), amount and thresholds (ticks). */
export function gauge({ spent, amount, forecast, forecastLow, forecastHigh, thresholds = [], label }) {
  const scale = Math.max(amount || 0, spent, forecastHigh || forecast || 0) * 1.08 || 1;
  const pct = (v) => `${Math.min(100, Math.max(0, (v / scale) * 100)).toFixed(2)}%`;
  const bar = h("div", { class: "gauge", role: "img", "aria-label": label });
  const fill = h("div", { class: "gauge-fill" });
  fill.style.width = pct(spent);
  bar.append(fill);
  if (forecastLow !== undefined && forecastHigh !== undefined && forecastHigh !== null) {
    const range = h("div", { class: "gauge-range", title: `forecast interval ${money(forecastLow)} – ${money(forecastHigh)}` });
    range.style.left = pct(forecastLow);
    range.style.width = `calc(${pct(forecastHigh)} - ${pct(forecastLow)})`;
    bar.append(range);
  }
  if (forecast !== null && forecast !== undefined) {
    const marker = h("div", { class: "gauge-forecast", title: `forecast at period end: ${money(forecast)}` });
    marker.style.left = pct(forecast);
    bar.append(marker);
  }
  for (const t of thresholds) {
    const tick = h("div", { class: `gauge-tick ${t.kind}`, title: `${t.label}: ${money(t.value)}` });
    tick.style.left = pct(t.value);
    bar.append(tick);
  }
  if (amount) {
    const line = h("div", { class: "gauge-amount", title: `amount: ${money(amount)}` });
    line.style.left = pct(amount);
    bar.append(line);
  }
  return bar;
}
