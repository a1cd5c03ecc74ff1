/**
 * The run history: JSON lines (`<dataDir>/runs.jsonl`, one run per line), rewritten whole through a
 * temporary file and a rename on every change, so a crash leaves either the old or the new file,
 * never a torn one.
 */
import * as fs from "fs";
import * as path from "path";
import type { RunRecord } from "./types";

export class RunHistory {
  /** The history file. */
  readonly file: string;

  constructor(dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.file = path.join(dataDir, "runs.jsonl");
  }

  /** Every run stored, oldest first; a line that does not parse is skipped (and named on stderr). */
  load(): RunRecord[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch {
      return [];
    }
    const out: RunRecord[] = [];
    text.split("\n").forEach((line, i) => {
      if (!line.trim()) return;
      try {
        out.push(JSON.parse(line) as RunRecord);
      } catch {
        console.error(`cockpit: ${this.file} line ${i + 1} is not JSON; skipped`);
      }
    });
    return out;
  }

  /** Replaces the stored history with `runs`, atomically. */
  save(runs: readonly RunRecord[]): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, "w", 0o600);
    try {
      fs.writeSync(fd, runs.map((r) => JSON.stringify(r)).join("\n") + (runs.length ? "\n" : ""));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
  }
}
