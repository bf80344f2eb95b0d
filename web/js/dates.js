// UTC calendar dates as "YYYY-MM-DD" strings: today, shifts, presets, and budget periods (layers' budgets/periods.py).

export const iso = (date) => date.toISOString().slice(0, 10);
export const parse = (text) => new Date(`${text}T00:00:00Z`);
export const today = () => iso(new Date());
export function addDays(text, days) {
  const date = parse(text);
  date.setUTCDate(date.getUTCDate() + days);
  return iso(date);
}
export const daysBetween = (from, to) => Math.round((parse(to) - parse(from)) / 86400000);
export const monthStart = (text) => `${text.slice(0, 8)}01`;
export function monthEnd(text) {
  const date = parse(monthStart(text));
  date.setUTCMonth(date.getUTCMonth() + 1, 0);
  return iso(date);
}
export function eachDay(from, to) {
  const days = [];
  for (let d = from; d <= to; d = addDays(d, 1)) days.push(d);
  return days;
}

export const PRESETS = {
  mtd: "Month to date",
  "30d": "Last 30 days",
  "90d": "Last 90 days",
  lastmonth: "Last month",
  custom: "Custom",
};

/** The [from, to] a preset names, today included (its spend so far) where the range reaches today. */
export function presetRange(preset, now = today()) {
  switch (preset) {
    case "mtd":
      return [monthStart(now), now];
    case "90d":
      return [addDays(now, -89), now];
    case "lastmonth": {
      const end = addDays(monthStart(now), -1);
      return [monthStart(end), end];
    }
    default:
      return [addDays(now, -29), now];
  }
}

function calendarPeriod(period, day) {
  const [y, m] = [Number(day.slice(0, 4)), Number(day.slice(5, 7))];
  if (period === "daily") return [day, day];
  if (period === "monthly") return [monthStart(day), monthEnd(day)];
  if (period === "quarterly") {
    const first = 3 * Math.floor((m - 1) / 3) + 1;
    const start = `${y}-${String(first).padStart(2, "0")}-01`;
    return [start, monthEnd(`${y}-${String(first + 2).padStart(2, "0")}-01`)];
  }
  return [`${y}-01-01`, `${y}-12-31`];
}

/** The budget period containing `day` (UTC calendar periods, the first starting on startDate), or null before it. */
export function periodContaining(period, startDate, day) {
  if (day < startDate) return null;
  const [start, end] = calendarPeriod(period, day);
  return [start > startDate ? start : startDate, end];
}
