/**
 * What every section parser of an app file shares: the problem sink, typed field readers that
 * report what is wrong with a field and how to fix it, and the unknown-field check.
 */
import { didYouMean } from "../../providers/shared/validate";

/** What every section parser of an app file shares: the problem sink and typed field readers. */
export interface AppFields {
  report: (field: string, problem: string, fix: string) => void;
  /** A non-empty string, or undefined after reporting the field. */
  str: (field: string, v: unknown, fix: string) => string | undefined;
  /** A list (non-empty when `required`), or [] after reporting the field. */
  list: (field: string, v: unknown, fix: string, required?: boolean) => unknown[];
  /** A whole number in [min, max], `dflt` when unset, or `dflt` after reporting the field. */
  int: (field: string, v: unknown, dflt: number, min: number, max: number) => number;
}

/** The field readers, reporting through `report`. */
export function appFields(report: AppFields["report"]): AppFields {
  const str: AppFields["str"] = (field, v, fix) => {
    if (typeof v === "string" && v.trim() !== "") return v;
    report(field, v === undefined ? "is missing" : "must be a non-empty string", fix);
    return undefined;
  };
  const list: AppFields["list"] = (field, v, fix, required = false) => {
    if (v === undefined && !required) return [];
    if (Array.isArray(v) && (!required || v.length > 0)) return v;
    report(
      field,
      v === undefined ? "is missing" : required ? "must be a non-empty list" : "must be a list",
      fix,
    );
    return [];
  };
  const int: AppFields["int"] = (field, v, dflt, min, max) => {
    if (v === undefined) return dflt;
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
    report(field, `must be a whole number from ${min} to ${max}`, `set ${field} to e.g. ${dflt || min}`);
    return dflt;
  };
  return { report, str, list, int };
}

/**
 * Reports every key of mapping `o` (found at `at`, "" for the top level) that is not in `known`,
 * with the nearest known name when one is close. Not a mapping: nothing to report here (the
 * section's own parser says what it must be).
 */
export function reportUnknownFields(
  report: AppFields["report"],
  o: unknown,
  at: string,
  known: string[],
): void {
  if (!o || typeof o !== "object" || Array.isArray(o)) return;
  for (const k of Object.keys(o)) {
    if (known.includes(k)) continue;
    const near = didYouMean(k, known);
    report(
      at ? `${at}.${k}` : k,
      `is not a known field${near ? ` (did you mean ${near}?)` : ""}`,
      near ? `rename it to ${near}` : `use only ${known.join(", ")}`,
    );
  }
}
