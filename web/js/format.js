// Money, percent and dates as the screens show them: USD (named once per screen) unless a budget keeps another
// currency, two decimals, the user's locale for separators and month names, periods in UTC.

const moneyFormat = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: "negative" });
const compactMoney = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1 });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
const longDayFormat = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
const monthFormat = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "long", timeZone: "UTC" });
const timeFormat = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "UTC", timeZoneName: "short" });

const otherCurrencies = new Map();
/** To the cent, half away from zero; negative amounts (credits) keep their sign, and -0.00 shows as 0.00. A budget's
 * figures are in its own currency (ISO 4217 code). */
export function money(value, currency = "USD") {
  if (currency === "USD") return moneyFormat.format(Number(value));
  if (!otherCurrencies.has(currency)) otherCurrencies.set(currency, new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: "negative" }));
  return otherCurrencies.get(currency).format(Number(value));
}
/** Axis labels: "$800", "$1.2K". */
export const moneyShort = (value) => compactMoney.format(value);
export const percent = (value, digits = 1) => `${Number(value).toFixed(digits)}%`;

/** "+12.3%" with an arrow and words, so direction is never colour alone; null (no baseline) says so. */
export function change(value) {
  if (value === null || value === undefined) return "no baseline";
  if (value === 0) return "no change";
  return `${value > 0 ? "▲ +" : "▼ −"}${Math.abs(value).toFixed(1)}%`;
}

const asDate = (iso) => new Date(`${iso.slice(0, 10)}T00:00:00Z`);
export const day = (iso) => dayFormat.format(asDate(iso));
export const longDay = (iso) => longDayFormat.format(asDate(iso));
export const month = (iso) => monthFormat.format(asDate(iso));
export const dateTime = (iso) => timeFormat.format(new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`));
export const range = (from, to) => (from === to ? longDay(from) : `${day(from)} – ${longDay(to)}`);

export const CATEGORY_LABELS = { AI: "AI", COMPUTE: "Compute", STORAGE: "Storage", EXPORT: "Exports", EGRESS: "Egress", OTHER: "Other" };
export const CATEGORIES = Object.keys(CATEGORY_LABELS);
export const categoryLabel = (key) => CATEGORY_LABELS[key] || key;
