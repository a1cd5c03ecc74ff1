/**
 * Each run's full log: a file per run under `<dataDir>/logs/`, appended synchronously so that a
 * reader who reads the file and subscribes in the same tick misses nothing and sees nothing twice;
 * live subscribers get every chunk as it is written (the SSE endpoint follows a run this way).
 */
import * as fs from "fs";
import * as path from "path";
import { EventEmitter } from "events";

/** A live chunk or the end of a run's log. */
export type LogListener = (chunk: string | null) => void;

export class RunLogs {
  private readonly emitter = new EventEmitter();

  constructor(
    /** Directory of the log files (created when missing). */
    private readonly dir: string,
    /** Removes secrets from every chunk before it is stored or sent. */
    private readonly redact: (text: string) => string,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.emitter.setMaxListeners(0);
  }

  /** The file of run `id`. */
  file(id: string): string {
    return path.join(this.dir, `${id}.log`);
  }

  /** Appends `text` to the run's log and hands it to live readers. */
  append(id: string, text: string): void {
    const clean = this.redact(text);
    fs.appendFileSync(this.file(id), clean, { mode: 0o600 });
    this.emitter.emit(id, clean);
  }

  /** Marks the end of the run's log: live readers get `null` and are dropped. */
  end(id: string): void {
    this.emitter.emit(id, null);
    this.emitter.removeAllListeners(id);
  }

  /** The log so far ("" when the run wrote nothing yet). */
  read(id: string): string {
    try {
      return fs.readFileSync(this.file(id), "utf8");
    } catch {
      return "";
    }
  }

  /** Reads what is there and subscribes to what follows, atomically; returns the unsubscribe function. */
  follow(id: string, listener: LogListener): { sofar: string; stop: () => void } {
    const sofar = this.read(id);
    this.emitter.on(id, listener);
    return { sofar, stop: () => this.emitter.off(id, listener) };
  }
}
