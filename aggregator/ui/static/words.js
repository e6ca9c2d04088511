// Plain words for what the network says. Pure: no DOM, no network.

const plural = (n, one, many) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;

/** "yes" | "no" | "unknown" for an exists value (true / false / null or missing). */
export function verdict(exists) {
  if (exists === true) return "yes";
  if (exists === false) return "no";
  return "unknown";
}

/** Visible label and screen-reader sentence for a verdict ("yes", "no", "unknown", "na"). */
export const VERDICTS = Object.freeze({
  yes: { label: "Yes", symbol: "✓", spoken: "Yes, seen here" },
  no: { label: "No", symbol: "✗", spoken: "No, not seen here" },
  unknown: { label: "Unknown", symbol: "?", spoken: "Unknown, no answer" },
  na: { label: "Not applicable", symbol: "–", spoken: "Not applicable" },
  waiting: { label: "Waiting", symbol: "…", spoken: "Waiting for an answer" },
});

/**
 * Plain words for a member that gave no usable answer. `assemblies` are the member's
 * assemblies when known (from /api/members), used to explain "not applicable".
 */
export function statusWords(status, message, { assembly = null, assemblies = [] } = {}) {
  const detail = message ? `: ${message}` : "";
  switch (status) {
    case "timeout":
      return "Site did not answer in time";
    case "error":
      return `Site unavailable${detail}`;
    case "unauthorized":
      return "Access refused: this site needs a sign-in or permission for this search";
    case "skipped":
      return "Site unavailable: not asked, it has been failing and is paused for now";
    case "not_applicable": {
      const otherAssembly = assembly && assemblies.length ? !assemblies.includes(assembly)
        : /\bGRCh3[78]\b/.test(message ?? "");
      if (otherAssembly) {
        return `Not applicable: other assembly (${message || `${assemblies.join(", ")} only`})`;
      }
      if (message) return `Not applicable: ${message}`;
      return "Not applicable: this site cannot answer this kind of search";
    }
    case "unsupported":
      return `Not asked: this site's API cannot express this search${detail}`;
    case "answered":
      return message ?? "";
    default:
      return `Unexpected status "${status}"${detail}`;
  }
}

/** Allele frequency with three significant digits ("0.000599"); "" when unknown. */
export function formatFrequency(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "";
  if (value === 0) return "0";
  return String(Number(value.toPrecision(3)));
}

/** "123 ms", "1.5 s"; "" when unknown. */
export function formatLatency(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Only http(s) links are shown; anything else (javascript:, data:) is refused. */
export function safeUrl(url) {
  try {
    const parsed = new URL(String(url));
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** Words for a Beacon securityLevel. */
export function accessWords(level) {
  switch (String(level ?? "").toUpperCase()) {
    case "PUBLIC": return "Public";
    case "REGISTERED": return "Registered users";
    case "CONTROLLED": return "Controlled access";
    default: return level ? String(level) : "Unknown";
  }
}

/** "5 minutes ago" for an ISO time relative to `now` (a Date); "never" for null. */
export function relativeTime(iso, now = new Date()) {
  if (!iso) return "never";
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return "unknown";
  const seconds = Math.round((now.getTime() - then.getTime()) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} seconds ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${plural(minutes, "minute", "minutes")} ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${plural(hours, "hour", "hours")} ago`;
  return `${plural(Math.round(hours / 24), "day", "days")} ago`;
}

/** The line shown while answers arrive ("3 of 7 sites have answered; seen at 1 so far"). */
export function progressLine(arrived, total, hits) {
  const base = `${arrived.toLocaleString("en")} of ${plural(total, "site", "sites")} ` +
    `${arrived === 1 ? "has" : "have"} answered`;
  return hits > 0 ? `${base}; seen at ${hits.toLocaleString("en")} so far…` : `${base}…`;
}

/**
 * The network's answer in one line, from a NetworkSummary:
 * "Seen at 3 of 7 sites; 2 did not answer; 1 not applicable."
 */
export function summaryLine(s) {
  const total = s.membersTotal ?? 0;
  const answered = s.membersAnswered ?? 0;
  const hits = s.membersWithHit ?? 0;
  const failed = s.membersFailed ?? 0;
  const notApplicable = Math.max(0, total - (s.membersApplicable ?? total));
  let head;
  if (total === 0) {
    head = "The network has no member sites";
  } else if (s.exists === true) {
    head = `Seen at ${hits.toLocaleString("en")} of ${plural(total, "site", "sites")}`;
  } else if (s.exists === false) {
    head = answered === total
      ? `Not seen at any of the ${plural(total, "site", "sites")}`
      : `Not seen at any of the ${plural(answered, "site", "sites")} that could answer`;
  } else if (answered === 0) {
    head = "Unknown: no site gave an answer";
  } else {
    head = `Unknown: not seen at the ${plural(answered, "site", "sites")} that answered`;
  }
  const parts = [head];
  if (failed > 0) parts.push(`${failed.toLocaleString("en")} did not answer`);
  if (notApplicable > 0) parts.push(`${notApplicable.toLocaleString("en")} not applicable`);
  let line = `${parts.join("; ")}.`;
  if (s.count !== null && s.count !== undefined && s.count > 0) {
    const records = plural(s.count, "matching record", "matching records");
    line += s.partial ? ` At least ${records} (some sites gave no count).`
      : ` ${records[0].toUpperCase()}${records.slice(1)} in all.`;
  }
  return line;
}
