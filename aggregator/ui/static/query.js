// What people type, turned into a query the network understands. Pure: no DOM, no network.
//
// People write positions 1-based, as in reports and VCFs. The Beacon API counts 0-based,
// half-open. Every query object made here is in the people's terms (1-based, inclusive);
// toApiParams() is the one and only place where positions become 0-based.

export const ASSEMBLIES = Object.freeze(["GRCh38", "GRCh37"]);
export const DEFAULT_ASSEMBLY = "GRCh38";

export const VARIANT_TYPES = Object.freeze([
  "SNP", "MNP", "INS", "DEL", "DUP", "DUP:TANDEM", "INV", "CNV", "BND",
]);

// Longest human chromosome (1) is 248,956,422 bases; anything beyond this is a typo.
export const MAX_POSITION = 300_000_000;
const MAX_ALLELE_LENGTH = 10_000;
const MAX_GENE_LENGTH = 40;

/** Raised for input that cannot be read; `field` names the form control to point at. */
export class ParseError extends Error {
  constructor(message, field = "q") {
    super(message);
    this.name = "ParseError";
    this.field = field;
  }
}

// RefSeq accession versions of the primary assembly, chromosomes 1..22, X, Y (GRCh37);
// GRCh38's are one above. The mitochondrion is NC_012920.1 in both.
// Mirrors beacon/normalize.py; a test compares the two.
const GRCH37_VERSIONS = [
  10, 11, 11, 11, 9, 11, 13, 10, 11, 10, 9, 11, 10, 8, 9, 9, 10, 9, 9, 10, 8, 10, 10, 9,
];
export const CHROMOSOMES = Object.freeze([
  ...Array.from({ length: 22 }, (_, i) => String(i + 1)), "X", "Y", "MT",
]);

const REFSEQ = new Map();
GRCH37_VERSIONS.forEach((version, i) => {
  const number = String(i + 1).padStart(6, "0");
  REFSEQ.set(`NC_${number}.${version}`, [CHROMOSOMES[i], "GRCh37"]);
  REFSEQ.set(`NC_${number}.${version + 1}`, [CHROMOSOMES[i], "GRCh38"]);
});
REFSEQ.set("NC_012920.1", ["MT", null]);

const CHROM_ALIASES = new Map([
  ...CHROMOSOMES.map((name) => [name.toLowerCase(), name]),
  ["m", "MT"], ["23", "X"], ["24", "Y"], ["25", "MT"],
]);

/**
 * Canonical chromosome (1..22, X, Y, MT) and the assembly an accession implies (or null).
 * Accepts 17, chr17, chrX, M, chrM, 23/24 and RefSeq accessions such as NC_000017.11.
 * Throws ParseError for anything else.
 */
export function normalizeChromosome(text, field = "q") {
  const raw = String(text ?? "").trim();
  const refseq = REFSEQ.get(raw.toUpperCase());
  if (refseq) return { chromosome: refseq[0], assembly: refseq[1] };
  let key = raw.toLowerCase();
  if (key.startsWith("chr")) key = key.slice(3);
  const name = CHROM_ALIASES.get(key);
  if (!name) {
    if (/^NC_\d+\.\d+$/i.test(raw)) {
      throw new ParseError(`${raw} is not a chromosome accession of GRCh37 or GRCh38.`, field);
    }
    throw new ParseError(
      raw ? `Unknown chromosome "${raw}". Use 1–22, X, Y or MT (with or without "chr").`
        : "Give a chromosome.",
      field,
    );
  }
  return { chromosome: name, assembly: null };
}

/** Every RefSeq accession understood, as [accession, chromosome, assembly or null]. */
export function refseqAccessions() {
  return [...REFSEQ].map(([accession, [name, asm]]) => [accession, name, asm]);
}

/** The RefSeq accession of a chromosome on an assembly (NC_000017.11 for 17 on GRCh38). */
export function refseqAccession(chromosome, assembly) {
  for (const [accession, [name, asm]] of REFSEQ) {
    if (name === chromosome && (asm === assembly || asm === null)) return accession;
  }
  return null;
}

function position(text, what, field = "q") {
  const digits = String(text ?? "").trim().replace(/[,\s]/g, "");
  if (!/^\d+$/.test(digits)) {
    throw new ParseError(
      digits ? `${what} must be a whole number, got "${text}".` : `Give ${what.toLowerCase()}.`,
      field,
    );
  }
  const value = Number(digits);
  if (value < 1) throw new ParseError(`${what} counts from 1 (as in reports and VCFs).`, field);
  if (value > MAX_POSITION) {
    throw new ParseError(`${what} ${value.toLocaleString("en")} is beyond any chromosome.`, field);
  }
  return value;
}

function length(text, what, field) {
  const raw = String(text ?? "").trim();
  if (raw === "") return null;
  if (!/^\d+$/.test(raw.replace(/,/g, ""))) {
    throw new ParseError(`${what} must be a whole number of bases, got "${raw}".`, field);
  }
  return Number(raw.replace(/,/g, ""));
}

function bases(text, what, field = "q") {
  const value = String(text ?? "").trim().toUpperCase();
  if (!/^[ACGTN]+$/.test(value)) {
    throw new ParseError(`${what} may contain only the bases A, C, G, T and N, got "${text}".`,
      field);
  }
  if (value.length > MAX_ALLELE_LENGTH) {
    throw new ParseError(`${what} is longer than ${MAX_ALLELE_LENGTH} bases.`, field);
  }
  return value;
}

function canonicalAssembly(text) {
  const value = String(text ?? "").trim().toLowerCase();
  const found = ASSEMBLIES.find((a) => a.toLowerCase() === value);
  if (!found) throw new ParseError(`Unknown assembly "${text}"; choose GRCh38 or GRCh37.`,
    "assembly");
  return found;
}

// The chosen assembly, unless an accession names another: the accession wins, with a note.
function settleAssembly(chosen, implied, accession, notes) {
  if (implied && implied !== chosen) {
    notes.push(`${accession} is a ${implied} accession, so the search uses ${implied}.`);
    return implied;
  }
  return chosen;
}

const CHROM = String.raw`(NC_\d{6}\.\d{1,2}|(?:chr)?(?:\d{1,2}|X|Y|MT?))`;
const SEP = String.raw`[\s:_\-]+`;
const NUM = String.raw`(\d[\d,]*)`;
// Any letters, so that a wrong base gets its own message rather than "cannot read".
const ALLELE = "([A-Za-z]+)";
const SEQUENCE_RE = new RegExp(
  `^${CHROM}${SEP}${NUM}[\\s:_\\-]*${ALLELE}(?:\\s*>\\s*|[\\s:_\\-/]+)${ALLELE}$`, "i");
const POSITION_RE = new RegExp(`^${CHROM}${SEP}${NUM}$`, "i");
const RANGE_RE = new RegExp(`^${CHROM}${SEP}${NUM}\\s*(?:-|–|_|\\.\\.)\\s*${NUM}$`, "i");
const HGVS_RE = /^(\S+?):g\.(.+)$/i;
const HGVS_SUBSTITUTION_RE = /^(\d+)([ACGTN])>([ACGTN])$/i;
const HGVS_OTHER_RE = /^(\d+)(?:_(\d+))?(delins|del|ins)([ACGTN]*)$/i;
const HGVS_UNSUPPORTED_RE = /^\d+(?:_\d+)?(dup|inv)/i;
const GENE_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*$/;

export const EXAMPLES = Object.freeze([
  "17-43045712-T-C",
  "chr17:43045712 T>C",
  "NC_000017.11:g.43045712T>C",
  "chr17:43044295-43125483",
  "BRCA1",
]);

const FORMATS_HELP =
  "Try 17-43045712-T-C, chr17:43045712 T>C, NC_000017.11:g.43045712T>C, " +
  "a range such as chr17:43044295-43125483, or a gene symbol such as BRCA1.";

/**
 * Read the search box. `text` is what was typed or pasted; `assembly` the selector's value.
 *
 * Returns a query in people's terms (1-based, inclusive positions):
 *   {kind: "sequence", chromosome, position, referenceBases, alternateBases, assembly, notes}
 *   {kind: "range", chromosome, from, to, assembly, notes}
 *   {kind: "gene", geneId, assembly, notes}
 *   {kind: "hgvs", allele, assembly, notes}   (genomic HGVS other than a substitution)
 * Throws ParseError with a message meant for the person who typed it.
 */
export function parseSearch(text, assembly = DEFAULT_ASSEMBLY) {
  const chosen = canonicalAssembly(assembly);
  const notes = [];
  const input = String(text ?? "").trim().replace(/\s+/g, " ");
  if (input === "") {
    throw new ParseError("Type a variant, a position or range, or a gene symbol. " + FORMATS_HELP);
  }
  if (input.length > 20_000) throw new ParseError("That is too long to be one variant.");
  if (/^rs\d+$/i.test(input)) {
    throw new ParseError(
      `dbSNP identifiers such as ${input} cannot be searched; ` +
      "paste the variant as chromosome, position, reference and alternate (17-43045712-T-C).");
  }
  if (/:[cnmrp]\./i.test(input)) {
    throw new ParseError(
      "Transcript (c.) and protein (p.) descriptions cannot be searched; use the genomic " +
      "form, such as NC_000017.11:g.43045712T>C or 17-43045712-T-C.");
  }

  const hgvs = HGVS_RE.exec(input);
  if (hgvs) return parseHgvs(hgvs[1], hgvs[2], chosen, notes);

  let m = SEQUENCE_RE.exec(input);
  if (m) {
    const { chromosome, assembly: implied } = normalizeChromosome(m[1]);
    const referenceBases = bases(m[3], "The reference allele");
    const alternateBases = bases(m[4], "The alternate allele");
    if (referenceBases === alternateBases) {
      throw new ParseError(`The reference and alternate alleles are the same (${referenceBases}).`);
    }
    return {
      kind: "sequence", chromosome, position: position(m[2], "The position"),
      referenceBases, alternateBases,
      assembly: settleAssembly(chosen, implied, m[1], notes), notes,
    };
  }
  m = RANGE_RE.exec(input);
  if (m) {
    const { chromosome, assembly: implied } = normalizeChromosome(m[1]);
    const from = position(m[2], "The start of the range");
    const to = position(m[3], "The end of the range");
    if (to < from) {
      throw new ParseError(`The range ends (${to.toLocaleString("en")}) before it starts ` +
        `(${from.toLocaleString("en")}).`);
    }
    return { kind: "range", chromosome, from, to,
      assembly: settleAssembly(chosen, implied, m[1], notes), notes };
  }
  m = POSITION_RE.exec(input);
  if (m) {
    const { chromosome, assembly: implied } = normalizeChromosome(m[1]);
    const at = position(m[2], "The position");
    notes.push("No alleles given: showing any variant at this position.");
    return { kind: "range", chromosome, from: at, to: at,
      assembly: settleAssembly(chosen, implied, m[1], notes), notes };
  }
  if (GENE_RE.test(input) && input.length <= MAX_GENE_LENGTH) {
    let chromosome = null;
    try {
      ({ chromosome } = normalizeChromosome(input));
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
    }
    if (chromosome) {
      throw new ParseError(`"${input}" is a chromosome: add a position or range, such as ` +
        `${input}:43045712 or ${input}:43044295-43125483.`);
    }
    return { kind: "gene", geneId: input, assembly: chosen, notes };
  }
  throw new ParseError(`Cannot read "${shorten(input)}". ${FORMATS_HELP}`);
}

function parseHgvs(reference, description, chosen, notes) {
  const { chromosome, assembly: implied } = normalizeChromosome(reference);
  const assembly = settleAssembly(chosen, implied, reference, notes);
  const sub = HGVS_SUBSTITUTION_RE.exec(description);
  if (sub) {
    const referenceBases = bases(sub[2], "The reference allele");
    const alternateBases = bases(sub[3], "The alternate allele");
    if (referenceBases === alternateBases) {
      throw new ParseError(`The reference and alternate alleles are the same (${referenceBases}).`);
    }
    return { kind: "sequence", chromosome, position: position(sub[1], "The position"),
      referenceBases, alternateBases, assembly, notes };
  }
  const unsupported = HGVS_UNSUPPORTED_RE.exec(description);
  if (unsupported) {
    const type = unsupported[1].toLowerCase() === "dup" ? "DUP" : "INV";
    throw new ParseError(`HGVS ${unsupported[1].toLowerCase()} cannot be searched as an allele; ` +
      `use the advanced search with variant type ${type} over the region.`);
  }
  const other = HGVS_OTHER_RE.exec(description);
  if (!other) {
    throw new ParseError(`Cannot read the genomic HGVS description "g.${shorten(description)}"; ` +
      "substitutions (g.43045712T>C), deletions, insertions and delins are understood.");
  }
  const first = position(other[1], "The position");
  const last = other[2] === undefined ? first : position(other[2], "The end position");
  if (last < first) throw new ParseError("The HGVS interval ends before it starts.");
  const change = other[3].toLowerCase();
  const inserted = other[4] ? bases(other[4], "The inserted sequence") : "";
  if ((change === "ins" || change === "delins") && !inserted) {
    throw new ParseError(`An HGVS ${change} needs the inserted bases (g.${first}_${last}${change}A).`);
  }
  if (change === "ins" && last !== first + 1) {
    throw new ParseError("An HGVS insertion names the two neighbouring bases it sits between " +
      `(g.${first}_${first + 1}insA).`);
  }
  const accession = refseqAccession(chromosome, assembly);
  const interval = last === first ? `${first}` : `${first}_${last}`;
  return {
    kind: "hgvs", chromosome, allele: `${accession}:g.${interval}${change}${inserted}`,
    assembly, notes,
  };
}

/**
 * Read the advanced form. `fields` holds the form's strings:
 *   mode ("range" | "bracket"), assembly, chromosome, from, to (range),
 *   startFrom, startTo, endFrom, endTo (bracket: where the variant's first and last bases lie),
 *   variantType, alternateBases, minLength, maxLength.
 * All positions are 1-based and inclusive. Throws ParseError naming the field.
 */
export function parseAdvanced(fields) {
  const f = fields ?? {};
  const assembly = canonicalAssembly(f.assembly || DEFAULT_ASSEMBLY);
  const notes = [];
  const mode = f.mode === "bracket" ? "bracket" : "range";
  const { chromosome, assembly: implied } = normalizeChromosome(f.chromosome, "chromosome");
  const query = { kind: mode, chromosome, notes,
    assembly: settleAssembly(assembly, implied, String(f.chromosome).trim(), notes) };
  if (mode === "range") {
    query.from = position(f.from, "The start of the range", "from");
    query.to = position(f.to, "The end of the range", "to");
    if (query.to < query.from) throw new ParseError("The range ends before it starts.", "to");
  } else {
    query.startFrom = position(f.startFrom, "The earliest start", "startFrom");
    query.startTo = position(f.startTo, "The latest start", "startTo");
    query.endFrom = position(f.endFrom, "The earliest end", "endFrom");
    query.endTo = position(f.endTo, "The latest end", "endTo");
    if (query.startTo < query.startFrom) {
      throw new ParseError("The latest start is before the earliest start.", "startTo");
    }
    if (query.endTo < query.endFrom) {
      throw new ParseError("The latest end is before the earliest end.", "endTo");
    }
    if (query.endTo < query.startFrom) {
      throw new ParseError("The variant would end before it starts.", "endTo");
    }
  }
  const type = String(f.variantType ?? "").trim().toUpperCase();
  if (type) {
    if (!VARIANT_TYPES.includes(type)) {
      throw new ParseError(`Unknown variant type "${f.variantType}".`, "variantType");
    }
    query.variantType = type;
  }
  const alt = String(f.alternateBases ?? "").trim();
  if (alt) query.alternateBases = bases(alt, "The alternate allele", "alternateBases");
  const min = length(f.minLength, "The minimum length", "minLength");
  const max = length(f.maxLength, "The maximum length", "maxLength");
  if (min !== null && max !== null && max < min) {
    throw new ParseError("The maximum length is below the minimum length.", "maxLength");
  }
  if (min !== null) query.minLength = min;
  if (max !== null) query.maxLength = max;
  return query;
}

/**
 * The GET parameters of /g_variants (and /g_variants/stream) for a query, as [name, value]
 * pairs. The one place where 1-based inclusive positions become the API's 0-based half-open
 * coordinates: a base at position P is start = P - 1, end = P.
 */
export function toApiParams(query) {
  const params = [["assemblyId", query.assembly]];
  switch (query.kind) {
    case "sequence":
      params.push(
        ["referenceName", query.chromosome],
        ["start", String(query.position - 1)],
        ["referenceBases", query.referenceBases],
        ["alternateBases", query.alternateBases],
      );
      break;
    case "range":
      params.push(
        ["referenceName", query.chromosome],
        ["start", String(query.from - 1)],
        ["end", String(query.to)],
      );
      break;
    case "bracket":
      // The first base lies in [startFrom, startTo] (1-based), so the 0-based start lies in
      // [startFrom - 1, startTo - 1]; the last base at 1-based P is the half-open end P.
      params.push(
        ["referenceName", query.chromosome],
        ["start", `${query.startFrom - 1},${query.startTo - 1}`],
        ["end", `${query.endFrom},${query.endTo}`],
      );
      break;
    case "gene":
      params.push(["geneId", query.geneId]);
      break;
    case "hgvs":
      params.push(["genomicAlleleShortForm", query.allele]);
      break;
    default:
      throw new Error(`unknown query kind ${query.kind}`);
  }
  if (query.variantType) params.push(["variantType", query.variantType]);
  if (query.alternateBases && query.kind !== "sequence") {
    params.push(["alternateBases", query.alternateBases]);
  }
  if (query.minLength !== undefined) params.push(["variantMinLength", String(query.minLength)]);
  if (query.maxLength !== undefined) params.push(["variantMaxLength", String(query.maxLength)]);
  // Ask for everything each site's policy allows: per-dataset answers, misses included, and
  // counts and frequencies where a site gives them.
  params.push(["requestedGranularity", "record"], ["includeResultsetResponses", "ALL"]);
  return params;
}

/** A short description of a query for headings ("17:43,045,712 T>C on GRCh38"). */
export function describeQuery(query) {
  const n = (v) => v.toLocaleString("en");
  let what;
  switch (query.kind) {
    case "sequence":
      what = `${query.chromosome}:${n(query.position)} ${query.referenceBases}>${query.alternateBases}`;
      break;
    case "range":
      what = query.from === query.to ? `${query.chromosome}:${n(query.from)}`
        : `${query.chromosome}:${n(query.from)}–${n(query.to)}`;
      break;
    case "bracket":
      what = `${query.chromosome}, starting ${n(query.startFrom)}–${n(query.startTo)}, ` +
        `ending ${n(query.endFrom)}–${n(query.endTo)}`;
      break;
    case "gene":
      what = `gene ${query.geneId}`;
      break;
    default:
      what = query.allele;
  }
  const extras = [];
  if (query.variantType) extras.push(query.variantType);
  if (query.alternateBases && query.kind !== "sequence") extras.push(`alt ${query.alternateBases}`);
  if (query.minLength !== undefined) extras.push(`≥ ${n(query.minLength)} bp`);
  if (query.maxLength !== undefined) extras.push(`≤ ${n(query.maxLength)} bp`);
  const suffix = extras.length ? ` (${extras.join(", ")})` : "";
  return `${what}${suffix} on ${query.assembly}`;
}

function shorten(text) {
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
