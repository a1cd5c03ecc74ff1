/**
 * Process output as core0 v0.9.0 reads it (threefoldtech/0-core@v0.9.0 `base/pm/stream/input.go`,
 * `message.go`, `buffer.go`, and the message switch of `base/pm/runner.go`):
 * - every line (split on `\n`, empty lines skipped) is a message of the stream's level (1 stdout,
 *   2 stderr) unless it matches `^(\d+)(:{2,3})(.*)$`: `NN::text` is one message of level NN,
 *   `NN:::first` opens a block continued by the following lines up to a line `:::` (an unclosed block
 *   at end of output is dropped);
 * - level 50 from a process is turned into stderr; levels above 100 are internal (dropped);
 * - the runner keeps the last message of a result level (20-23, 30) as the result's `level`/`data`,
 *   the last level-9 message as `critical`, levels 1 and 2 in the streams (last 1000 lines, each
 *   followed by `\n`), and forwards every other level only to the loggers (not in the result).
 */

export const LEVEL_STDOUT = 1;
export const LEVEL_STDERR = 2;
export const LEVEL_CRITICAL = 9;
export const LEVEL_EXIT_STATE = 50;
export const LEVEL_INTERNAL = 100;
export const RESULT_LEVELS = [20, 21, 22, 23, 30];
export const STREAM_BUFFER_LINES = 1000;

export interface Message {
  /** 1 stdout, 2 stderr, or the NN of an `NN::` line. */
  level: number;
  /** The text (without the `NN::` prefix; blocks joined with `\n`). */
  message: string;
}

const PM_MSG = /^(\d+)(:{2,3})([\s\S]*)$/;

/** Splits one output stream into messages; feed bytes with `push`, then call `end`. */
export class LineConsumer {
  private pending: Buffer[] = [];
  private multiline = false;
  private level = 0;
  private text = "";

  constructor(
    private readonly defaultLevel: number,
    private readonly emit: (m: Message) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, start)) {
      this.pending.push(chunk.subarray(start, i));
      this.line(Buffer.concat(this.pending).toString("utf8"));
      this.pending = [];
      start = i + 1;
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
  }

  end(): void {
    if (this.pending.length) this.line(Buffer.concat(this.pending).toString("utf8"));
    this.pending = [];
  }

  private line(line: string): void {
    if (line === "") return;
    if (this.multiline) {
      if (line === ":::") {
        this.multiline = false;
        this.emit({ level: this.level, message: this.text });
      } else {
        this.text += "\n" + line;
      }
      return;
    }
    const m = PM_MSG.exec(line);
    if (!m) {
      this.emit({ level: this.defaultLevel, message: line });
      return;
    }
    this.level = Number.parseInt(m[1], 10);
    this.text = m[3];
    if (m[2] === ":::") this.multiline = true;
    else this.emit({ level: this.level, message: this.text });
  }
}

/** stream.NewBuffer(1000): the last N lines, rendered each followed by `\n`. */
export class LineBuffer {
  private lines: string[] = [];
  constructor(private readonly size = STREAM_BUFFER_LINES) {}
  append(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.size) this.lines.shift();
  }
  toString(): string {
    return this.lines.map((l) => l + "\n").join("");
  }
}

/** What the runner collects from a process's messages. */
export class ResultCollector {
  readonly stdout = new LineBuffer();
  readonly stderr = new LineBuffer();
  result?: Message;
  critical = "";

  /** The msgInterceptor of systemprocess.go followed by the runner's message switch. */
  accept(msg: Message): void {
    const level = msg.level === LEVEL_EXIT_STATE ? LEVEL_STDERR : msg.level;
    if (level > LEVEL_INTERNAL) return;
    if (RESULT_LEVELS.includes(level)) this.result = { level, message: msg.message };
    else if (level === LEVEL_STDOUT) this.stdout.append(msg.message);
    else if (level === LEVEL_STDERR) this.stderr.append(msg.message);
    else if (level === LEVEL_CRITICAL) this.critical = msg.message;
    // other levels (3-8, 10 statsd, 11 debug, ...) only reach the loggers
  }
}
