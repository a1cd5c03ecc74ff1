/**
 * Reading core0 results as v0.9.0 writes them (`base/pm/core/result.go`): `data` at level 20 is
 * JSON, "" is nothing, other levels are text; `streams` is absent when both are empty.
 *
 * Plain module: no Pulumi imports.
 */
import type { Core0Result, ProcessResult } from "./model";

/** A SUCCESS result's `data`: level 20 = JSON (text when it does not parse), "" = null, else text. */
export function decodeData<T>(r: Core0Result): T {
  if (r.data === "" || r.data === undefined || r.data === null) return null as T;
  if (r.level === 20) {
    try {
      return JSON.parse(r.data) as T;
    } catch {
      return r.data as T;
    }
  }
  return r.data as T;
}

/** What went wrong, in one line: the data or critical message and the last lines of stderr. */
export function describeFailure(r: Core0Result): string {
  if (r.state === "UNKNOWN_CMD") return `the node has no command ${r.command}`;
  if (r.state === "DUPILICATE_ID") return `a job with id ${r.id} is already running on the node`;
  let data = r.data ?? "";
  try {
    const d = JSON.parse(r.data) as unknown;
    if (typeof d === "string") data = d;
  } catch {
    /* plain text */
  }
  const stderr = Array.isArray(r.streams)
    ? (r.streams[1] ?? "").trim().split("\n").slice(-3).join(" | ")
    : "";
  return [data || r.critical, stderr].filter(Boolean).join("; ") || "(no detail)";
}

/** stdout/stderr from `streams`, which v0.9.0 omits when both are empty. */
export function processResult(r: Core0Result): ProcessResult {
  const streams = Array.isArray(r.streams) ? r.streams : [];
  return { state: r.state, stdout: streams[0] ?? "", stderr: streams[1] ?? "", code: r.code, result: r };
}
