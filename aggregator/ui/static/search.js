// The search page: reads the box or the advanced form, keeps the query in the URL, and shows
// each site's answer as it arrives from /g_variants/stream.

import {
  DEFAULT_ASSEMBLY, ParseError, describeQuery, parseAdvanced, parseSearch, toApiParams,
} from "./query.js";
import {
  VERDICTS, formatFrequency, formatLatency, progressLine, safeUrl, statusWords, summaryLine,
  verdict,
} from "./words.js";
import { h, loadNetworkName } from "./dom.js";

const ADVANCED_FIELDS = [
  "chromosome", "from", "to", "startFrom", "startTo", "endFrom", "endTo",
  "variantType", "alternateBases", "minLength", "maxLength",
];
// Short names for the advanced fields in the page's own URL.
const URL_NAMES = {
  chromosome: "chr", from: "from", to: "to", startFrom: "startFrom", startTo: "startTo",
  endFrom: "endFrom", endTo: "endTo", variantType: "type", alternateBases: "alt",
  minLength: "minLength", maxLength: "maxLength",
};

const $ = (id) => document.getElementById(id);
const box = $("q");
const assemblySelect = $("assembly");
const advanced = $("advanced");
const advancedForm = $("advanced-form");

let current = null; // {source: EventSource, ...} of the search under way
let memberInfo = new Map(); // memberId -> {assemblies, datasetNames}, from /api/members

// ---- errors next to the controls ------------------------------------------------------

function showError(errorId, control, message) {
  const el = $(errorId);
  el.textContent = message;
  el.hidden = false;
  if (control) {
    control.setAttribute("aria-invalid", "true");
    control.focus();
  }
}

function clearErrors() {
  for (const id of ["q-error", "adv-error"]) {
    $(id).hidden = true;
    $(id).textContent = "";
  }
  for (const el of document.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

// ---- the page's URL ---------------------------------------------------------------------

function boxUrl(text, assembly) {
  const params = new URLSearchParams({ q: text, assembly });
  return `${location.pathname}?${params}`;
}

function advancedValues() {
  const data = new FormData(advancedForm);
  const fields = { mode: data.get("mode") ?? "range", assembly: data.get("assembly") };
  for (const name of ADVANCED_FIELDS) fields[name] = String(data.get(name) ?? "").trim();
  return fields;
}

function advancedUrl(fields) {
  const params = new URLSearchParams({ mode: fields.mode, assembly: fields.assembly });
  for (const name of ADVANCED_FIELDS) {
    if (fields[name]) params.set(URL_NAMES[name], fields[name]);
  }
  return `${location.pathname}?${params}`;
}

function setAdvancedMode(mode) {
  for (const radio of advancedForm.elements.mode) radio.checked = radio.value === mode;
  for (const el of advancedForm.querySelectorAll(".mode-range")) el.hidden = mode !== "range";
  for (const el of advancedForm.querySelectorAll(".mode-bracket")) el.hidden = mode !== "bracket";
}

/** Fill the controls from the URL and run the search it describes, if any. */
function runFromUrl() {
  const params = new URLSearchParams(location.search);
  const assembly = params.get("assembly") || DEFAULT_ASSEMBLY;
  clearErrors();
  if (params.has("q")) {
    box.value = params.get("q");
    setSelect(assemblySelect, assembly);
    submitBox({ push: false });
  } else if (params.has("mode")) {
    advanced.open = true;
    const mode = params.get("mode") === "bracket" ? "bracket" : "range";
    setAdvancedMode(mode);
    setSelect($("adv-assembly"), assembly);
    for (const name of ADVANCED_FIELDS) {
      advancedForm.elements[name].value = params.get(URL_NAMES[name]) ?? "";
    }
    submitAdvanced({ push: false });
  } else {
    stopSearch();
    $("results").hidden = true;
  }
}

function setSelect(select, value) {
  if ([...select.options].some((o) => o.value === value)) select.value = value;
}

// ---- reading the forms ------------------------------------------------------------------

function submitBox({ push }) {
  clearErrors();
  let query;
  try {
    query = parseSearch(box.value, assemblySelect.value);
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    showError("q-error", err.field === "assembly" ? assemblySelect : box, err.message);
    return;
  }
  setSelect(assemblySelect, query.assembly);
  if (push) history.pushState(null, "", boxUrl(box.value.trim(), query.assembly));
  startSearch(query, "box");
}

function submitAdvanced({ push }) {
  clearErrors();
  const fields = advancedValues();
  let query;
  try {
    query = parseAdvanced(fields);
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    const control = advancedForm.elements[err.field] ?? $("adv-chromosome");
    showError("adv-error", control, err.message);
    return;
  }
  setSelect($("adv-assembly"), query.assembly);
  if (push) history.pushState(null, "", advancedUrl({ ...fields, assembly: query.assembly }));
  startSearch(query, "advanced");
}

// ---- rows ---------------------------------------------------------------------------------

function badge(kind) {
  const v = VERDICTS[kind];
  return h("span", { class: `badge badge-${kind}` },
    h("span", { class: "badge-symbol", "aria-hidden": "true" }, v.symbol),
    h("span", { "aria-hidden": "true" }, ` ${v.label}`),
    h("span", { class: "visually-hidden" }, v.spoken));
}

// One wrapper per cell, so the narrow layout can put the label beside the whole value.
function cell(label, ...content) {
  const parts = content.flat().filter((c) => c !== null && c !== undefined && c !== "");
  return h("td", { "data-label": label },
    parts.length ? h("span", { class: "cell-value" }, ...parts) : null);
}

function siteCell(name) {
  return h("th", { scope: "row", "data-label": "Site" }, name);
}

function countText(dataset) {
  const parts = [];
  if (dataset.count !== null && dataset.count !== undefined) {
    parts.push(`${dataset.count.toLocaleString("en")} ${dataset.count === 1 ? "record" : "records"}`);
  }
  return parts.join("");
}

function frequencyContent(dataset) {
  const frequency = formatFrequency(dataset.frequency);
  const ac = dataset.alleleCount;
  const an = dataset.alleleNumber;
  const alleles = ac !== null && ac !== undefined && an
    ? `${ac.toLocaleString("en")} of ${an.toLocaleString("en")} alleles` : "";
  if (frequency && alleles) {
    return [h("span", {}, frequency), h("span", { class: "secondary" }, ` (${alleles})`)];
  }
  return [frequency || alleles];
}

function handoverLinks(handovers) {
  const links = [];
  for (const handover of handovers ?? []) {
    const href = safeUrl(handover.url);
    if (!href) continue;
    links.push(h("a", { href, rel: "noopener noreferrer external", target: "_blank" },
      handover.note || "More at this site"));
  }
  return links.length ? [h("span", { class: "handovers" }, ...links)] : [];
}

function rowsForMember(answer, context) {
  const latency = formatLatency(answer.latencyMs);
  if (answer.status !== "answered") {
    const kind = answer.status === "not_applicable" ? "na" : "unknown";
    const assemblies = memberInfo.get(answer.memberId)?.assemblies ?? [];
    const words = statusWords(answer.status, answer.message,
      { assembly: context.assembly, assemblies });
    return [h("tr", { class: `row-${kind}`, "data-member": answer.memberId, "data-status": answer.status },
      siteCell(answer.name), cell("Dataset", "—"), cell("Seen?", badge(kind)),
      cell("Count", ""), cell("Allele frequency", ""), cell("Answered in", latency),
      cell("Details", h("span", { class: "status-words" }, words)))];
  }
  const datasets = answer.datasets ?? [];
  if (datasets.length === 0) {
    const kind = verdict(answer.exists);
    return [h("tr", { class: `row-${kind}`, "data-member": answer.memberId, "data-status": "answered" },
      siteCell(answer.name), cell("Dataset", "All datasets"), cell("Seen?", badge(kind)),
      cell("Count", ""), cell("Allele frequency", ""), cell("Answered in", latency),
      cell("Details", answer.message ?? ""))];
  }
  return datasets.map((dataset) => {
    const kind = verdict(dataset.exists);
    const title = dataset.name && dataset.name !== dataset.datasetId ? dataset.name
      : memberInfo.get(answer.memberId)?.datasetNames.get(dataset.datasetId);
    const name = title && title !== dataset.datasetId
      ? [title, h("span", { class: "secondary" }, ` (${dataset.datasetId})`)]
      : [dataset.datasetId];
    return h("tr", {
      class: `row-${kind}`, "data-member": answer.memberId, "data-status": "answered",
      "data-dataset": dataset.datasetId,
    },
    siteCell(answer.name), cell("Dataset", ...name), cell("Seen?", badge(kind)),
    cell("Count", countText(dataset)), cell("Allele frequency", ...frequencyContent(dataset)),
    cell("Answered in", latency), cell("Details", ...handoverLinks(dataset.handovers)));
  });
}

function waitingRow(member) {
  return h("tr", { class: "row-waiting", "data-member": member.memberId, "data-status": "waiting" },
    siteCell(member.name), cell("Dataset", ""), cell("Seen?", badge("waiting")),
    cell("Count", ""), cell("Allele frequency", ""), cell("Answered in", ""),
    cell("Details", "Waiting for an answer…"));
}

function replaceMemberRows(memberId, rows) {
  const body = $("answers-body");
  const old = [...body.querySelectorAll("tr")].filter((tr) => tr.dataset.member === memberId);
  if (old.length === 0) {
    body.append(...rows);
    return;
  }
  old[0].replaceWith(...rows);
  for (const tr of old.slice(1)) tr.remove();
}

// ---- the stream -------------------------------------------------------------------------

function setSummary(kind, text) {
  const summary = $("summary");
  summary.replaceChildren(...(kind ? [badge(kind), " "] : []), h("span", {}, text));
  summary.dataset.state = kind ?? "progress";
}

function stopSearch() {
  if (current) {
    current.source.close();
    current = null;
  }
}

function startSearch(query, origin) {
  stopSearch();
  const streamUrl = `/g_variants/stream?${new URLSearchParams(toApiParams(query))}`;
  const state = { source: new EventSource(streamUrl), url: streamUrl, origin, started: false,
    finished: false, total: 0, arrived: new Set(), hits: new Set(), assembly: query.assembly };
  current = state;

  $("results").hidden = false;
  $("results-query").textContent = describeQuery(query);
  const notes = $("notes");
  notes.textContent = query.notes.join(" ");
  notes.hidden = query.notes.length === 0;
  $("answers-body").replaceChildren();
  setSummary(null, "Asking the network…");
  $("answers").setAttribute("aria-busy", "true");

  const source = state.source;
  source.addEventListener("start", (event) => {
    if (current !== state) return;
    const data = JSON.parse(event.data);
    state.started = true;
    state.total = data.members.length;
    $("answers-body").replaceChildren(...data.members.map(waitingRow));
    setSummary(null, `Asking ${state.total} ${state.total === 1 ? "site" : "sites"}…`);
  });
  source.addEventListener("member", (event) => {
    if (current !== state) return;
    const answer = JSON.parse(event.data);
    state.arrived.add(answer.memberId);
    if (answer.exists === true) state.hits.add(answer.memberId);
    replaceMemberRows(answer.memberId, rowsForMember(answer, state));
    setSummary(null, progressLine(state.arrived.size, Math.max(state.total, state.arrived.size),
      state.hits.size));
  });
  source.addEventListener("summary", (event) => {
    if (current !== state) return;
    const summary = JSON.parse(event.data);
    state.finished = true;
    // The stream ends here; closing stops the browser from asking again.
    source.close();
    $("answers").setAttribute("aria-busy", "false");
    setSummary(verdict(summary.exists), summaryLine(summary));
  });
  source.addEventListener("error", () => {
    if (current !== state || state.finished) return;
    source.close();
    $("answers").setAttribute("aria-busy", "false");
    if (!state.started) {
      explainRefusal(state);
      return;
    }
    for (const tr of $("answers-body").querySelectorAll("tr[data-status=waiting]")) {
      tr.replaceWith(...rowsForMember({ memberId: tr.dataset.member,
        name: tr.querySelector("th").textContent, status: "error",
        message: "the connection to the network was lost before this site answered" }, state));
    }
    setSummary("unknown",
      `The connection to the network was lost after ${state.arrived.size} of ` +
      `${state.total} sites answered. Search again to retry.`);
  });
}

// EventSource does not show why a stream was refused; ask once more with fetch to read the
// Beacon error (a 400 names the parameter it did not accept).
async function explainRefusal(state) {
  let message = "The network could not be reached. Check the connection and search again.";
  try {
    const response = await fetch(state.url, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      const detail = body?.error?.errorMessage;
      message = detail ? `The network did not accept this search: ${detail}`
        : `The network did not accept this search (HTTP ${response.status}).`;
    } else if (response.body) {
      await response.body.cancel();
      message = "The answer stream was interrupted. Search again to retry.";
    }
  } catch (err) {
    if (!(err instanceof TypeError)) throw err; // TypeError: the network itself failed
  }
  if (current !== state) return;
  $("results").hidden = true;
  if (state.origin === "advanced") showError("adv-error", $("adv-chromosome"), message);
  else showError("q-error", box, message);
}

// ---- wiring -------------------------------------------------------------------------------

// Assemblies and dataset names of the members, to explain "not applicable" and to name
// datasets whose answers carry only an id. The page works without them.
async function loadMemberInfo() {
  const response = await fetch("/api/members", { headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const body = await response.json();
  memberInfo = new Map(body.members.map((m) => [m.memberId, {
    assemblies: m.assemblies ?? [],
    datasetNames: new Map((m.datasets ?? []).map((d) => [d.id, d.name])),
  }]));
}

// Set once the person searches; the page's own first run from the URL (delayed until the
// member details are in) must then not replace or stop their search.
let searchedByHand = false;

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  searchedByHand = true;
  submitBox({ push: true });
});
advancedForm.addEventListener("submit", (event) => {
  event.preventDefault();
  searchedByHand = true;
  box.value = "";
  submitAdvanced({ push: true });
});
advancedForm.addEventListener("change", (event) => {
  if (event.target.name === "mode") setAdvancedMode(event.target.value);
});
for (const button of document.querySelectorAll("button.example")) {
  button.addEventListener("click", () => {
    searchedByHand = true;
    box.value = button.dataset.example;
    submitBox({ push: true });
  });
}
box.addEventListener("input", () => {
  if (box.hasAttribute("aria-invalid")) clearErrors();
});
window.addEventListener("popstate", runFromUrl);

loadNetworkName();
const memberInfoReady = loadMemberInfo().catch((err) => {
  if (!(err instanceof TypeError) && !(err instanceof SyntaxError)) throw err;
});
// A shared link's search waits briefly for the member details, never for long.
Promise.race([memberInfoReady, new Promise((resolve) => { setTimeout(resolve, 1000); })])
  .then(() => {
    if (!searchedByHand) runFromUrl();
  });
