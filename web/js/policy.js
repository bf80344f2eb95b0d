// A budget's policy in words, and what it decides at a given spend: the rules of layers/finops/finops/budgets/
// policy.py (state, active actions, the enforcement answer), for the budget form's preview and the cards.
import { h } from "./dom.js";
import { money, percent } from "./format.js";

export const ACTIONS = {
  notify: "e-mail the budget's owners",
  alert_admins: "alert the admins",
  rate_limit: "rate-limit requests",
  block_ai: "block AI calls",
  block_export: "block report exports",
};
const ENFORCEMENT = new Set(["rate_limit", "block_ai", "block_export"]);

export const STATES = {
  ok: { label: "OK", icon: "✓", hint: "under the notify threshold" },
  notified: { label: "Warning", icon: "!", hint: "past the notify threshold" },
  enforced: { label: "Enforced", icon: "■", hint: "past the enforce threshold: its actions are in effect" },
};

/** State badge: colour, icon and words, never colour alone. */
export function stateBadge(state) {
  const s = STATES[state] || STATES.ok;
  return h("span", { class: `badge state-${state}`, title: s.hint }, h("span", { class: "badge-icon", "aria-hidden": "true" }, s.icon), s.label);
}

const num = (v) => (v === null || v === undefined || v === "" ? null : Number(v));

export function stateFor(policy, percentUsed) {
  const enforce = num(policy.enforceThreshold);
  if (enforce !== null && percentUsed >= enforce) return "enforced";
  if (percentUsed >= num(policy.notifyThreshold)) return "notified";
  return "ok";
}

export function activeActions(policy, state) {
  if (state === "ok") return [];
  const actions = policy.actions || [];
  return [...actions.filter((a) => !ENFORCEMENT.has(a)), ...(state === "enforced" ? actions.filter((a) => ENFORCEMENT.has(a)) : [])];
}

function list(words) {
  return words.length <= 1 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

function actionWords(action, policy) {
  if (action === "notify" && policy.notifyEmails?.length) return `${ACTIONS.notify} (${policy.notifyEmails.join(", ")})`;
  if (action === "alert_admins" && policy.adminEmails?.length) return `${ACTIONS.alert_admins} (${policy.adminEmails.join(", ")})`;
  if (action === "rate_limit" && num(policy.rateLimitFactor) !== null) return `rate-limit requests to ${Math.round(num(policy.rateLimitFactor) * 100)}% of the normal rate`;
  return ACTIONS[action] || action;
}

/** "At 80% ($6,400.00): e-mail the budget's owners (…)", one sentence per threshold. */
export function policyInWords(policy, amount) {
  const actions = policy.actions || [];
  const notifyThreshold = num(policy.notifyThreshold);
  const enforceThreshold = num(policy.enforceThreshold);
  const at = (t) => `At ${percent(t, 0)}${amount ? ` (${money((amount * t) / 100)})` : ""}`;
  const notifying = actions.filter((a) => !ENFORCEMENT.has(a)).map((a) => actionWords(a, policy));
  const enforcing = actions.filter((a) => ENFORCEMENT.has(a)).map((a) => actionWords(a, policy));
  const lines = [`${at(notifyThreshold)}: ${notifying.length ? list(notifying) : "record a warning (no notification chosen)"}.`];
  if (enforceThreshold === null) lines.push(enforcing.length ? "No enforce threshold: the enforcement actions never apply." : "No enforcement: spend is never blocked.");
  else lines.push(`${at(enforceThreshold)}: ${enforcing.length ? list(enforcing) : "record that the budget is exhausted (no enforcement action chosen)"}.`);
  return lines;
}

const OPERATIONS = { ai_generation: "AI", export: "EXPORT" };

/** What an enforcement check would answer for `operation` at `percentUsed` (policy.decide). */
export function decide(policy, categories, operation, percentUsed) {
  const category = OPERATIONS[operation];
  if (categories?.length && !categories.includes(category)) return { action: "allow", words: "not covered by this budget" };
  const enforce = num(policy.enforceThreshold);
  if (enforce === null || percentUsed < enforce) return { action: "allow", words: "allowed" };
  const actions = policy.actions || [];
  if ((category === "AI" && actions.includes("block_ai")) || (category === "EXPORT" && actions.includes("block_export"))) return { action: "block", words: "blocked" };
  if (actions.includes("rate_limit") && num(policy.rateLimitFactor) !== null) return { action: "rate_limit", words: `rate limited to ${Math.round(num(policy.rateLimitFactor) * 100)}%` };
  return { action: "allow", words: "allowed (no enforcement action restricts it)" };
}

/** The notify and enforce thresholds of a budget as amounts, for gauges and charts. */
export function thresholdMarks(budget) {
  const marks = [{ value: (budget.amount * Number(budget.policy.notifyThreshold)) / 100, label: `notify at ${Number(budget.policy.notifyThreshold)}%`, kind: "notify" }];
  if (budget.policy.enforceThreshold !== null && budget.policy.enforceThreshold !== undefined) {
    marks.push({ value: (budget.amount * Number(budget.policy.enforceThreshold)) / 100, label: `enforce at ${Number(budget.policy.enforceThreshold)}%`, kind: "enforce" });
  }
  return marks;
}
