// The network page: every member from /api/members with its health and holdings.

import { h, loadNetworkName } from "./dom.js";
import { accessWords, formatLatency, relativeTime, safeUrl } from "./words.js";

const REFRESH_MS = 30_000;

const STATUS = {
  up: { kind: "yes", symbol: "✓", label: "Up", spoken: "Status: up, answering" },
  down: { kind: "no", symbol: "✗", label: "Down", spoken: "Status: down, not answering" },
  invalid: { kind: "unknown", symbol: "!", label: "Invalid answers",
    spoken: "Status: answering, but its answers do not follow the standard" },
  unknown: { kind: "unknown", symbol: "?", label: "Not checked yet",
    spoken: "Status: not checked yet" },
};

const BREAKER = {
  closed: "Normal: asked with every search",
  open: "Paused after repeated failures: not asked for now",
  half_open: "Being tried again after failures",
};

const $ = (id) => document.getElementById(id);

function statusBadge(status) {
  const s = STATUS[status] ?? STATUS.unknown;
  return h("span", { class: `badge badge-${s.kind}` },
    h("span", { class: "badge-symbol", "aria-hidden": "true" }, s.symbol),
    h("span", { "aria-hidden": "true" }, ` ${s.label}`),
    h("span", { class: "visually-hidden" }, s.spoken));
}

function utc(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function fact(term, ...description) {
  return [h("dt", {}, term), h("dd", {}, ...description)];
}

function datasetTable(member) {
  const datasets = member.datasets ?? [];
  if (datasets.length === 0) return h("p", { class: "secondary" }, "No datasets listed.");
  return h("div", { class: "table-wrap" }, h("table", { class: "datasets" },
    h("caption", {}, `Datasets at ${member.name}`),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Dataset"), h("th", { scope: "col" }, "Assembly"),
      h("th", { scope: "col" }, "Access"))),
    h("tbody", {}, ...datasets.map((d) => h("tr", {},
      h("th", { scope: "row", "data-label": "Dataset" }, h("span", {}, d.name || d.id,
        d.name && d.name !== d.id ? h("span", { class: "secondary" }, ` (${d.id})`) : null)),
      h("td", { "data-label": "Assembly" }, d.assembly ?? ""),
      h("td", { "data-label": "Access" },
        h("span", { class: `access access-${String(d.securityLevel ?? "").toLowerCase()}` },
          accessWords(d.securityLevel))))))));
}

function memberCard(member, now) {
  const href = safeUrl(member.url);
  const last = member.lastAnswerAt
    ? h("time", { datetime: member.lastAnswerAt, title: member.lastAnswerAt },
      `${relativeTime(member.lastAnswerAt, now)} (${utc(member.lastAnswerAt)})`)
    : "Never";
  const headingId = `member-${member.memberId}`;
  return h("li", { class: "member", "data-member": member.memberId,
    "data-status": member.status, "aria-labelledby": headingId },
  h("div", { class: "member-head" },
    h("h2", { id: headingId }, member.name),
    statusBadge(member.status)),
  h("dl", { class: "facts" },
    ...fact("Address", href ? h("a", { href, rel: "noopener noreferrer external" }, href)
      : String(member.url ?? "")),
    ...fact("API", member.api === "v1" ? "Beacon v1.1" : "Beacon v2"),
    ...fact("Last answer", last),
    ...fact("Latency", formatLatency(member.latencyMs) || "Not measured yet"),
    ...fact("Assemblies", (member.assemblies ?? []).join(", ") || "Not known"),
    ...fact("Asking it", BREAKER[member.breaker] ?? String(member.breaker ?? "")),
    ...(member.message ? fact("Note", member.message) : [])),
  datasetTable(member));
}

async function refresh() {
  const status = $("network-status");
  const error = $("network-error");
  status.textContent = "Checking the network…";
  let body;
  try {
    const response = await fetch("/api/members", { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = await response.json();
  } catch (err) {
    error.textContent = `The member list could not be loaded (${err.message}). ` +
      "Try Refresh in a moment.";
    error.hidden = false;
    status.textContent = "";
    return;
  }
  error.hidden = true;
  const now = new Date();
  const members = body.members ?? [];
  $("members").replaceChildren(...members.map((m) => memberCard(m, now)));
  const up = members.filter((m) => m.status === "up").length;
  status.textContent = `${up} of ${members.length} ${members.length === 1 ? "site" : "sites"} ` +
    `up, checked at ${now.toLocaleTimeString("en-GB")}.`;
}

$("refresh").addEventListener("click", refresh);
loadNetworkName();
refresh();
setInterval(refresh, REFRESH_MS);
