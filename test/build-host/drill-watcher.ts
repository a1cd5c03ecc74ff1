/**
 * Fault injection for the firewall drills, driven by what happens on a testbed host rather than by
 * sleeps: a watcher polls the machine's /proc for processes in the host's network namespace whose
 * command line matches (`ufw --force enable`, the switch's `confirm`, ...) and fires an action when
 * one starts or when it has finished. Hosts share the machine's pid namespace, so the test process
 * sees their processes and can kill the SSH session a command runs in.
 */
import * as fs from "fs";
import { hostPaths } from "../testbed/hosts";

export type Moment = "start" | "exit";

interface Rule {
  match: RegExp;
  moment: Moment;
  action: (pid: number) => Promise<void> | void;
  /** Fire once (default) or for every matching process. */
  every: boolean;
  fired: number;
}

function readCmdline(pid: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return undefined;
  }
}

function ppidOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function gone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

export class HostWatcher {
  private readonly netns: number;
  private readonly rules: Rule[] = [];
  private readonly seen = new Map<number, Rule[]>();
  private timer: NodeJS.Timeout | undefined;
  /** What fired, in order, for the trial's report. */
  readonly events: string[] = [];

  constructor(private readonly host: string) {
    this.netns = fs.statSync(`/run/netns/${host}`).ino;
  }

  /** Fires `action` when a process matching `match` starts, or once it has exited. */
  on(match: RegExp, moment: Moment, action: (pid: number) => Promise<void> | void, every = false): this {
    this.rules.push({ match, moment, action, every, fired: 0 });
    return this;
  }

  start(intervalMs = 20): this {
    const tick = () => {
      this.poll();
      this.timer = setTimeout(tick, intervalMs);
    };
    tick();
    return this;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** How often each rule fired. */
  fired(): number[] {
    return this.rules.map((r) => r.fired);
  }

  private inHost(pid: number): boolean {
    try {
      return fs.statSync(`/proc/${pid}/ns/net`).ino === this.netns;
    } catch {
      return false;
    }
  }

  private fire(rule: Rule, pid: number, what: string): void {
    rule.fired++;
    this.events.push(what);
    void Promise.resolve()
      .then(() => rule.action(pid))
      .catch((err: unknown) => this.events.push(`action failed: ${String(err)}`));
  }

  private poll(): void {
    for (const entry of fs.readdirSync("/proc")) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || this.seen.has(pid)) continue;
      const cmd = readCmdline(entry);
      if (!cmd) continue;
      const rules = this.rules.filter((r) => r.match.test(cmd) && (r.every || r.fired === 0));
      if (rules.length === 0 || !this.inHost(pid)) continue;
      this.seen.set(pid, rules);
      for (const r of rules) if (r.moment === "start") this.fire(r, pid, `${cmd} started`);
    }
    for (const [pid, rules] of this.seen) {
      if (!gone(pid)) continue;
      for (const r of rules)
        if (r.moment === "exit" && (r.every || r.fired === 0)) this.fire(r, pid, `pid ${pid} exited`);
      this.seen.set(pid, []);
    }
  }

  /** SIGKILLs the SSH session (the listener's child) that `pid` runs in: the client sees its session die. */
  killSessionOf(pid: number): boolean {
    const listener = Number(fs.readFileSync(hostPaths(this.host).pidFile, "utf8").trim());
    let p: number | undefined = pid;
    for (let i = 0; i < 20 && p && p > 1; i++) {
      const parent = ppidOf(p);
      if (parent === listener) {
        try {
          process.kill(p, "SIGKILL");
          return true;
        } catch {
          return false;
        }
      }
      p = parent;
    }
    return false;
  }

  /** Pids of live processes in the host matching `match` now. */
  processes(match: RegExp): number[] {
    const out: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      const cmd = readCmdline(entry);
      if (cmd && match.test(cmd) && this.inHost(pid) && !gone(pid)) out.push(pid);
    }
    return out;
  }
}
