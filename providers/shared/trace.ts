/**
 * Counts remote calls for benchmarks and "no-op up makes no writes" tests.
 * When G8OS_TRACE_FILE is set, every remote call appends one JSON line to it:
 * `{"t": ms, "system": "ssh", "op": "exec", "write": true, "target": "10.0.0.2"}`.
 * Never records arguments, so nothing secret can leak into the file.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value.
 */
export interface TraceEvent {
  system: string;
  op: string;
  write: boolean;
  target?: string;
}

export function trace(ev: TraceEvent): void {
  const file = process.env.G8OS_TRACE_FILE;
  if (!file) return;
  const fs = require("fs") as typeof import("fs");
  fs.appendFileSync(file, JSON.stringify({ t: Date.now(), ...ev }) + "\n");
}
