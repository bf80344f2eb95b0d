// A budget's spend in its current period and where the period is heading, read from the cost endpoints the
// way the service computes them (layers/finops/finops/budgets/spend.py and forecasts.py): the tenant's spend in
// the budget's categories, scaled by the share its model/region/service filters take of it this period.
import { ApiError, api, costsBase } from "./api.js";
import * as dates from "./dates.js";

const FILTERS = [["model", "models"], ["region", "regions"], ["service", "services"]];
const cache = new Map();

function cached(path, query) {
  const key = `${path}?${new URLSearchParams(query)}`;
  if (!cache.has(key)) cache.set(key, api(path, { query }).catch((error) => { cache.delete(key); throw error; }));
  return cache.get(key);
}

/** Forget cached figures (after a save, or on a new screen). */
export const forgetSpend = () => cache.clear();

/**
 * Spend of `scope` ({categories, models, regions, services, currency}) over `period` ([start, end]) up to `now`:
 * {daily: {date: cost}, total, throughYesterday, ratio, exact}. With filters on two or more dimensions the
 * cost endpoints cannot intersect them: the total is then an upper bound (exact: false).
 */
export async function periodSpend(tenant, scope, [start, end], now = dates.today()) {
  const to = end < now ? end : now;
  const categories = scope.categories.join(",") || undefined;
  // In the budget's currency (the API converts; USD when the scope names none).
  const query = { tenantId: tenant, from: start, to, categories, currency: scope.currency };
  const filters = FILTERS.filter(([, field]) => scope[field]?.length);
  const [byCategory, ...byFilter] = await Promise.all([
    cached(`${costsBase}/costs`, { ...query, groupBy: "category", granularity: "daily" }),
    ...filters.map(([dimension]) => cached(`${costsBase}/costs`, { ...query, groupBy: dimension, granularity: "total" })),
  ]);
  const daily = {};
  for (const row of byCategory.rows) daily[row.period] = (daily[row.period] || 0) + row.cost;
  const categoryTotal = byCategory.total;
  let ratio = 1;
  if (filters.length) {
    const matching = byFilter.map((reply, i) => reply.rows.filter((r) => scope[filters[i][1]].includes(r.key)).reduce((s, r) => s + r.cost, 0));
    ratio = categoryTotal > 0 ? Math.min(...matching) / categoryTotal : 0;
  }
  for (const day of Object.keys(daily)) daily[day] *= ratio;
  const total = categoryTotal * ratio;
  return { daily, total, throughYesterday: total - (daily[now] || 0), ratio, exact: filters.length <= 1 };
}

/**
 * The forecast of the rest of the period (today included) added to the spend through yesterday:
 * {expected, lower80, upper80, lower95, upper95 (single series only), points: [{date, value}]} or {refused}.
 */
export async function periodForecast(tenant, scope, [start, end], spend, period, now = dates.today()) {
  if (period === "daily" || end <= now || start > now) return { refused: "daily budgets and periods ending today are not forecast" };
  const horizonDays = dates.daysBetween(now, end) + 1;
  const series = scope.categories.length ? scope.categories : [undefined];
  let replies;
  try {
    replies = await Promise.all(series.map((category) => cached(`${costsBase}/forecast`, { tenantId: tenant, horizonDays, currency: scope.currency, ...(category ? { category } : {}) })));
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) return { refused: error.message };
    throw error;
  }
  const points = replies[0].points.map((p, i) => ({ date: p.date, value: spend.ratio * replies.reduce((s, r) => s + r.points[i].value, 0) }));
  const sum = (field) => spend.throughYesterday + spend.ratio * replies.reduce((s, r) => s + r.total[field], 0);
  // Intervals of separate series do not add up; only a single series keeps its own.
  const single = replies.length === 1;
  return {
    expected: sum("value"),
    lower80: single ? sum("lower80") : null,
    upper80: single ? sum("upper80") : null,
    lower95: single ? sum("lower95") : null,
    upper95: single ? sum("upper95") : null,
    method: replies[0].method,
    points,
  };
}

/** The first day the cumulative spend (through yesterday, then the forecast points) reaches `amount`, or null. */
export function crossingDate(spend, forecast, amount) {
  let running = spend.throughYesterday;
  if (running >= amount) return null;
  for (const point of forecast.points || []) {
    running += point.value;
    if (running >= amount) return point.date;
  }
  return null;
}
