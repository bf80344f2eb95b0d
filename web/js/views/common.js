// Pieces several screens share: page headers, empty states, the anomaly row and its acknowledge control.
import { api, costsBase } from "../api.js";
import { h, message, replace } from "../dom.js";
import { categoryLabel, change, dateTime, longDay, money } from "../format.js";

export function pageHeader(title, subtitle, ...actions) {
  return h("div", { class: "page-head" },
    h("div", {}, h("h1", { tabindex: "-1" }, title), subtitle ? h("p", { class: "subtitle" }, subtitle) : null),
    actions.length ? h("div", { class: "page-actions" }, actions) : null);
}

/** What a tenant with no cost data should do next. */
export function noDataMessage(tenant) {
  return message("info",
    h("p", {}, h("strong", {}, `No cost data for tenant ${tenant} in this range yet.`)),
    h("p", {}, "Costs arrive when the platform's services send usage telemetry (POST /v1/analytics/finops/telemetry) or a FOCUS billing export is imported; each day is aggregated at 01:00 UTC and today's events count within seconds. See the README's \"Ingesting telemetry\"."));
}

export const SEVERITY_ICON = { high: "▲▲", medium: "▲", low: "△" };

export function severityBadge(severity) {
  return h("span", { class: `badge severity-${severity}` }, h("span", { class: "badge-icon", "aria-hidden": "true" }, SEVERITY_ICON[severity]), severity[0].toUpperCase() + severity.slice(1));
}

export function directionText(anomaly) {
  return anomaly.direction === "up" ? "▲ spike" : "▼ drop";
}

export function rootCauseText(anomaly, limit = 3) {
  if (!anomaly.rootCause?.length) return "—";
  return anomaly.rootCause.slice(0, limit).map((r) =>
    `${r.dimension} ${r.key} ${r.change >= 0 ? "+" : "−"}${money(Math.abs(r.change))} (${Math.round(r.share * 100)}%)${r.firstSeen ? ", new" : ""}`).join("; ");
}

/** "Acknowledged by x on …: note", or for an admin an Acknowledge button with a note field; `done` redraws. */
export function acknowledgeCell(anomaly, user, done) {
  const cell = h("div", { class: "ack" });
  if (anomaly.acknowledged) {
    const a = anomaly.acknowledged;
    replace(cell, h("span", { class: "badge ack-done" }, h("span", { class: "badge-icon", "aria-hidden": "true" }, "✓"), "Acknowledged"),
      h("span", { class: "hint" }, ` by ${a.acknowledgedBy || "someone"}, ${dateTime(a.acknowledgedAt)}${a.note ? `: ${a.note}` : ""}`));
    return cell;
  }
  if (!user.canManage) {
    replace(cell, h("span", { class: "badge ack-open" }, "Open"));
    return cell;
  }
  const open = () => {
    const note = h("input", { type: "text", maxlength: "1000", "aria-label": `Note for the ${anomaly.category} anomaly of ${anomaly.date}`, placeholder: "Note (optional): why it is fine, or what was done" });
    const status = h("span", { class: "hint", role: "status" });
    const confirm = h("button", {
      type: "button",
      class: "primary small",
      onclick: async () => {
        confirm.disabled = true;
        status.textContent = "Saving…";
        try {
          const updated = await api(`${costsBase}/anomalies/${encodeURIComponent(anomaly.id)}/acknowledge`, { method: "POST", body: { note: note.value } });
          done({ ...anomaly, ...updated });
        } catch (error) {
          status.textContent = error.message;
          confirm.disabled = false;
        }
      },
    }, "Confirm");
    replace(cell, h("div", { class: "ack-form" }, note, confirm, h("button", { type: "button", class: "small", onclick: () => replace(cell, button) }, "Cancel"), status));
    note.focus();
  };
  const button = h("button", { type: "button", class: "small", onclick: open, "aria-label": `Acknowledge the ${anomaly.category} ${anomaly.direction === "up" ? "spike" : "drop"} of ${longDay(anomaly.date)}` }, "Acknowledge");
  replace(cell, button);
  return cell;
}

export function anomalySummary(anomaly) {
  return `${categoryLabel(anomaly.category)} ${directionText(anomaly)} on ${longDay(anomaly.date)}: ${money(anomaly.actual)} vs ${money(anomaly.expected)} expected (${change(anomaly.deviationPercent)})`;
}
