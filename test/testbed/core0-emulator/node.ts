/**
 * One emulated core0 v0.9.0 node: the sink loop on the node's public redis, core0's process manager
 * with the v0.9.0 command set, and containers (each with its own process manager standing in for
 * coreX). Sources, threefoldtech/0-core@v0.9.0: `base/sink.go`, `base/sinkclient.go`,
 * `base/builtin/*.go`, `core0/builtin/{bridge,reboot}.go`, `core0/containers/*.go`, `core0/g8os.toml`,
 * `coreX/main.go`, `coreX/bootstrap/bootstrap.go`. See docs/protocols/core0-v0.9.md.
 */
import { ChildProcess, spawn } from "child_process";
import { randomUUID } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Redis } from "ioredis";
import { GoMap, marshal, plain, unmarshal } from "./gojson";
import { dirCheck, execCheck, lookPath } from "./exec";
import {
  builtin as pmBuiltin,
  Factory,
  NodePanic,
  ProcessManager,
  ProcessStats,
  Proc,
  startOsProcess,
} from "./pm";
import { buildRootfs } from "./rootfs";
import { LineConsumer, LEVEL_STDERR } from "./stream";
import { cpuInfo, memInfo, nicInfo, osInfo, processMemory } from "./sysinfo";
import {
  BRIDGE_CREATE_ARGS,
  BRIDGE_DELETE_ARGS,
  CREATE_ARGS,
  CreateArgs,
  decodeCommand,
  DISPATCH_ARGS,
  ID_ARGS,
  STATE,
  SYSTEM_ARGS,
  SystemArgs,
  TERMINATE_ARGS,
  WireCommand,
  WireResult,
} from "./wire";

/** The sink key of `[sink.main]` in core0/g8os.toml: the route of every command from redis. */
export const ROUTE = "main";
/** `core:` + the sink id "default" (core0/main.go). */
export const COMMAND_QUEUE = "core:default";
/** coreX's PATH (container.go sets it as coreX's only environment variable). */
export const COREX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** `[extension.bash]` of core0/g8os.toml. */
const BASH_ARGS = ["-c", "T=`mktemp` && cat > $T && bash $T; EXIT=$?; rm -rf $T; exit $EXIT"];
const UNSHARE = "/usr/bin/unshare";

export interface NodeOptions {
  /** State directory: container roots under `<dir>/mnt/container-<id>`, plists under `<dir>/tmp`. */
  dir: string;
  /** The node-local IPFS API (path-style cat). */
  nodeIpfsApi: string;
  /** EXPIRE of result lists, s (300 on the node). */
  resultTtlSeconds: number;
  /** Download cancel time without response headers, ms (15000 on the node). */
  ipfsFetchTimeoutMs: number;
  /** Pause of base/sink.go after a command it cannot decode (10 s there, if the last error was < 10 s ago). */
  decodeErrorPauseMs: number;
  /** `max_jobs` of core0/g8os.toml (200). */
  maxJobs: number;
  /** Time a reboot takes before the node consumes commands again. */
  rebootMs: number;
}

interface Container {
  id: number;
  root: string;
  tmp: string;
  args: CreateArgs;
  pm: ProcessManager;
  /** Container paths whose content download failed (FUSE would fail their open with EIO). */
  failed: Map<string, string>;
  /** Bind mounts made for host-directory `mount` entries, to undo at exit. */
  binds: string[];
  /** The coreX stand-in process, once started. */
  agent?: ChildProcess;
}

/** The process environment core0 passes on when a command has no `env` (Linux gives init HOME and TERM). */
function nodeEnv(): Record<string, string> {
  return { HOME: "/", TERM: "linux", PATH: process.env.PATH ?? COREX_PATH };
}

export class Core0Node {
  readonly pm: ProcessManager;
  readonly containers = new Map<number, Container>();
  private readonly bridges = ["core-0"];
  private sequence = 0;
  private stopped = false;
  /** core.killall / core.reboot states: the sink takes no more commands while set. */
  private hung = false;
  private rebooting?: Promise<void>;
  private loop?: Promise<void>;
  readonly logLines: string[] = [];
  private readonly canChroot = process.getuid?.() === 0;

  constructor(
    /** Blocking connection for BLPOP. */
    private readonly consumer: Redis,
    private readonly publisher: Redis,
    private readonly opts: NodeOptions,
  ) {
    this.pm = new ProcessManager(opts.maxJobs);
    this.pm.routeHandlers.set(ROUTE, (_cmd, r) => void this.respond(r));
    this.pm.onPanic = (err) => this.panicked(err);
    this.registerBase(this.pm, "/", nodeEnv);
    const f = this.pm.factories;
    const builtin = (fn: Parameters<typeof pmBuiltin>[0]): Factory => pmBuiltin(fn, this.pm);
    f.set("bash", (cmd, onMessage) => this.bashExtension(cmd, onMessage));
    f.set(
      "corex.create",
      builtin((cmd) => this.create(cmd)),
    );
    f.set(
      "corex.list",
      builtin(() => this.list()),
    );
    f.set(
      "corex.dispatch",
      builtin((cmd) => this.dispatch(cmd)),
    );
    f.set(
      "corex.terminate",
      builtin((cmd) => this.terminate(cmd)),
    );
    f.set(
      "bridge.create",
      builtin((cmd) => this.bridgeCreate(cmd)),
    );
    f.set(
      "bridge.list",
      builtin(() => [...this.bridges]),
    );
    f.set(
      "bridge.delete",
      builtin((cmd) => this.bridgeDelete(cmd)),
    );
    f.set(
      "core.reboot",
      builtin(() => this.reboot()),
    );
    if (!this.canChroot)
      this.log("containers need root (chroot into the plist root): corex.create will fail in this process");
  }

  /** core0 is PID 1: a panic takes the whole node down; the emulated node stops answering. */
  private panicked(err: Error): void {
    this.log(`panic: runtime error: ${err.message} (core0 died; the node answers nothing more)`);
    this.hung = true;
  }

  log(line: string): void {
    this.logLines.push(`${new Date().toISOString()} ${line}`);
    if (this.logLines.length > 5000) this.logLines.shift();
  }

  start(): void {
    this.loop = this.sink();
  }

  /** base/sink.go run(): BLPOP, decode (failure: log, maybe pause), push to the PM. */
  private async sink(): Promise<void> {
    let lastError = Date.now();
    while (!this.stopped) {
      await this.pm.waitForCapacity();
      if (this.rebooting) await this.rebooting;
      if (this.hung || this.stopped) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      let payload: string;
      try {
        const got = await this.consumer.blpop(COMMAND_QUEUE, 1);
        if (!got) continue;
        payload = got[1];
      } catch (err) {
        if (this.stopped) return;
        this.log(`Failed to get next command: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      const { cmd, error } = decodeCommand(payload);
      if (!cmd) {
        this.log(`Failed to get next command from redis: ${error}`);
        if (Date.now() - lastError < this.opts.decodeErrorPauseMs)
          await new Promise((r) => setTimeout(r, this.opts.decodeErrorPauseMs));
        lastError = Date.now();
        continue;
      }
      if (this.hung) continue; // the push would block forever
      if (this.rebooting) continue; // popped while going down: lost with the node's memory
      this.pm.push(cmd, ROUTE);
    }
  }

  /** sinkClient.Respond: RPUSH result:<id> + EXPIRE; a result without id is not pushed. */
  private async respond(r: WireResult): Promise<void> {
    if (!r.id) return;
    const key = `result:${r.id}`;
    try {
      await this.publisher.pipeline().rpush(key, marshal(r)).expire(key, this.opts.resultTtlSeconds).exec();
    } catch (err) {
      if (!this.stopped) this.log(`Failed to respond to command ${r.id}: ${(err as Error).message}`);
    }
  }

  // ---- base builtins (core0 and coreX alike) ----

  private registerBase(pm: ProcessManager, root: string, env: () => Record<string, string>): void {
    const f = pm.factories;
    const builtin = (fn: Parameters<typeof pmBuiltin>[0]): Factory => pmBuiltin(fn, pm);
    f.set("core.system", (cmd, onMessage) => this.systemProcess(cmd, onMessage, root, env()));
    f.set(
      "core.ping",
      builtin(() => `PONG ${goTime(new Date())}`),
    );
    f.set(
      "core.kill",
      builtin((cmd) => {
        pm.kill(args<{ id: string }>(cmd, ID_ARGS("builtin.killData")).id);
        return true;
      }),
    );
    // base/pm/pm.go Killall holds the runners lock while each runner's kill is sent: in v0.9.0 this
    // deadlocks the process manager. The emulated node stops taking commands and never answers.
    f.set("core.killall", (cmd) => this.hang(pm, cmd));
    f.set(
      "core.state",
      builtin(() => {
        const s = { cpu: 0, rss: 0, vms: 0, swap: 0, debug: "" };
        for (const r of pm.runners.values()) {
          const st = r.process?.stats();
          if (!st) continue;
          s.cpu += st.cpu;
          s.rss += st.rss;
          s.vms += st.vms;
          s.swap += st.swap;
        }
        const me = processMemory(process.pid);
        return { cpu: s.cpu, rss: s.rss + me.rss, vms: s.vms + me.vms, swap: s.swap + me.swap, debug: "" };
      }),
    );
    f.set(
      "process.state",
      builtin((cmd) => {
        const id = args<{ id: string }>(cmd, ID_ARGS("builtin.getProcessStatsData")).id;
        if (id && !pm.runners.has(id)) throw new Error(`Process with id '${id}' doesn't exist`);
        const list = id ? [pm.runners.get(id)!] : [...pm.runners.values()];
        return list.filter((r) => r.process).map((r) => statsJson(r.process!.stats()));
      }),
    );
    f.set(
      "info.cpu",
      builtin(() => cpuInfo()),
    );
    f.set(
      "info.mem",
      builtin(() => memInfo()),
    );
    f.set(
      "info.nic",
      builtin(() => nicInfo()),
    );
    f.set(
      "info.os",
      builtin(() => osInfo()),
    );
    f.set(
      "info.disk",
      builtin(() => diskInfo()),
    );
  }

  private hang(pm: ProcessManager, cmd: WireCommand): Proc {
    this.log(
      `${cmd.command} ${cmd.id}: process manager deadlocked (as v0.9.0's Killall); no more commands run`,
    );
    if (pm === this.pm) this.hung = true;
    else for (const c of this.containers.values()) if (c.pm === pm) c.pm.maxJobs = 0;
    return { kill: () => undefined, stats: () => zeroStats(cmd), done: new Promise<string>(() => undefined) };
  }

  /** process.NewSystemProcess + Run: Go's decode errors ignored, stdin base64, env replaces. */
  private systemProcess(
    cmd: WireCommand,
    onMessage: (m: { level: number; message: string }) => void,
    root: string,
    inherited: Record<string, string>,
    failed?: Map<string, string>,
  ): Proc {
    if (cmd.arguments === undefined) throw new NodePanic("nil pointer dereference: *cmd.Arguments");
    const a = unmarshal<SystemArgs>(cmd.arguments, SYSTEM_ARGS).value;
    if (a.env?.length === 0) a.env = undefined; // an empty map: Go leaves cmd.Env nil
    const env = a.env ? Object.fromEntries(a.env) : inherited;
    const file = lookPath(root, a.name, inherited.PATH ?? "", "/");
    const dirErr = dirCheck(root, a.dir);
    if (dirErr) throw new Error(dirErr);
    const cwd = a.dir || "/";
    const resolvedForFailed = path.posix.isAbsolute(file) ? file : path.posix.join(cwd, file);
    if (failed?.has(path.posix.normalize(resolvedForFailed)))
      throw new Error(`fork/exec ${file}: input/output error`);
    const execErr = execCheck(root, file, cwd);
    if (execErr) throw new Error(execErr);
    const stdin = a.stdin;
    const stats = (pid: number | undefined): ProcessStats => ({
      cmd,
      cpu: 0,
      ...processMemory(pid),
      debug: pid ? String(pid) : "",
    });
    if (root === "/") {
      return startOsProcess(
        { file, args: a.args ?? [], argv0: a.name, cwd, env, stdin, killSignal: "SIGTERM", stats },
        onMessage,
      );
    }
    // Inside a container: chrooted into its root (and own mount/UTS namespaces), as coreX's children are.
    return startOsProcess(
      {
        file: UNSHARE,
        args: ["--mount", "--uts", `--root=${root}`, `--wd=${cwd}`, "--", file, ...(a.args ?? [])],
        argv0: "unshare",
        cwd: "/",
        env,
        stdin,
        killSignal: "SIGTERM",
        stats,
      },
      onMessage,
    );
  }

  /** The `bash` extension: stdin is the script (a plain string, not base64); other keys are ignored. */
  private bashExtension(cmd: WireCommand, onMessage: (m: { level: number; message: string }) => void): Proc {
    if (cmd.arguments === undefined) throw new NodePanic("nil pointer dereference: *cmd.Arguments");
    const input = plain(cmd.arguments) as Record<string, unknown> | null;
    let stdin: string | undefined;
    if (input && typeof input === "object" && !Array.isArray(input) && typeof input.stdin === "string")
      stdin = input.stdin;
    const sys: WireCommand = {
      ...cmd,
      command: "core.system",
      arguments: {
        name: "bash",
        dir: "",
        args: BASH_ARGS,
        stdin: stdin === undefined ? null : Buffer.from(stdin).toString("base64"),
      },
    };
    return this.systemProcess(sys, onMessage, "/", nodeEnv());
  }

  // ---- containers (core0/containers) ----

  private async create(cmd: WireCommand): Promise<number> {
    const a = args<CreateArgs>(cmd, CREATE_ARGS);
    if (!a.root) throw new Error("root plist is required");
    for (const [host, guest] of a.mount ?? []) {
      if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(host)) continue; // "probably a plist"
      if (!path.posix.isAbsolute(host)) throw new Error(`host path '${host}' must be absolute`);
      if (!path.posix.isAbsolute(guest)) throw new Error(`guest path '${guest}' must be absolute`);
      if (!fs.existsSync(host)) throw new Error(`host path '${host}' does not exist`);
    }
    for (const [host, guest] of a.port ?? []) {
      if (host < 0 || host > 65535) throw new Error(`invalid host port '${host}'`);
      if (guest < 0 || guest > 65535) throw new Error(`invalid guest port '${guest}'`);
    }
    for (const [name] of a.network.bridge ?? []) {
      if (!this.bridges.includes(name)) {
        if (!hostLinks().includes(name)) throw new Error("Link not found");
        throw new Error(
          `bridge '[${(a.network.bridge ?? []).map(([n, s]) => `${n}:${s}`).join(" ")}]' doesn't exist`,
        );
      }
    }
    if (!this.canChroot)
      throw new Error(
        `core0 emulator: containers run chrooted and need root; this process runs as uid ${process.getuid?.()}`,
      );
    this.sequence = (this.sequence + 1) & 0xffff;
    const id = this.sequence;
    const c: Container = {
      id,
      root: path.join(this.opts.dir, "mnt", `container-${id}`),
      tmp: path.join(this.opts.dir, "tmp", `container-${id}`),
      args: a,
      pm: new ProcessManager(100), // coreX -max-jobs default
      failed: new Map(),
      binds: [],
    };
    try {
      await this.mount(c);
    } catch (err) {
      await this.cleanup(c);
      throw err;
    }
    // preStart: core0 bind-mounts its redis socket and the coreX binary at these paths.
    for (const f of ["redis.socket", "coreX"]) fs.writeFileSync(path.join(c.root, f), "");
    this.setupCorex(c);
    const runner = this.pm.newRunner(
      { ...blankCommand(), id: `core-${id}` },
      ROUTE,
      (rcmd, onMessage) => this.corexProcess(c, rcmd, onMessage),
      { onExit: () => void this.containerExited(c) },
    );
    if (!runner) {
      await this.cleanup(c);
      throw new Error("duplicate job id");
    }
    this.containers.set(id, c);
    return id;
  }

  private async mount(c: Container): Promise<void> {
    fs.rmSync(c.root, { recursive: true, force: true });
    const rootfsOpts = {
      nodeIpfsApi: this.opts.nodeIpfsApi,
      fetchTimeoutMs: this.opts.ipfsFetchTimeoutMs,
      tmpDir: c.tmp,
      log: (l: string) => this.log(`container ${c.id}: ${l}`),
    };
    const root = await buildRootfs(c.args.root, c.root, rootfsOpts);
    for (const [k, v] of root.failed) c.failed.set(k, v);
    for (const [src, dst] of c.args.mount ?? []) {
      const target = path.join(c.root, dst);
      fs.mkdirSync(target, { recursive: true, mode: 0o755 });
      if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(src)) {
        await run("mount", ["--bind", src, target]);
        c.binds.push(target);
      } else {
        const sub = await buildRootfs(src, target, rootfsOpts);
        for (const [k, v] of sub.failed) c.failed.set(path.posix.join(dst, k), v);
      }
    }
  }

  /** coreX: a process in the container (it needs /proc in the root to mount proc, else it exits). */
  private corexProcess(
    c: Container,
    cmd: WireCommand,
    onMessage: (m: { level: number; message: string }) => void,
  ): Proc {
    const procDir = path.join(c.root, "proc");
    if (!fs.existsSync(procDir) || !fs.statSync(procDir).isDirectory()) {
      // coreX/bootstrap.go mounts proc on /proc; without that directory coreX exits (log.Fatalf).
      const err = new LineConsumer(LEVEL_STDERR, onMessage);
      err.push(
        Buffer.from(
          "bootstrap I > Mounting proc\nmain C > Failed to bootstrap corex: no such file or directory\n",
        ),
      );
      err.end();
      this.log(`container ${c.id}: coreX exited: the plist has no /proc directory to mount proc on`);
      return { kill: () => undefined, stats: () => zeroStats(cmd), done: Promise.resolve(STATE.ERROR) };
    }
    const agent: ChildProcess = spawn("sleep", ["infinity"], { cwd: c.root, stdio: "ignore" });
    c.agent = agent;
    const done = new Promise<string>((resolve) => {
      agent.once("error", () => resolve(STATE.ERROR));
      agent.once("exit", (code) => resolve(code === 0 ? STATE.SUCCESS : STATE.ERROR));
    });
    return {
      kill: () => agent.kill("SIGKILL"), // containerProcessImpl.Kill: process.Kill()
      stats: () => ({ cpu: 0, ...processMemory(agent.pid), debug: agent.pid ? String(agent.pid) : "" }),
      done,
    };
  }

  /** coreX's own process manager: base builtins and core.system inside the root, results routed back. */
  private setupCorex(c: Container): void {
    this.registerBase(c.pm, c.root, () => ({ PATH: COREX_PATH }));
    // A Go panic in coreX ends the coreX process: the container runner ends with ERROR.
    c.pm.onPanic = (err) => {
      this.log(`container ${c.id}: coreX panic: ${err.message}`);
      c.agent?.kill("SIGKILL");
    };
    c.pm.factories.set("core.system", (cmd, onMessage) =>
      this.systemProcess(cmd, onMessage, c.root, { PATH: COREX_PATH }, c.failed),
    );
    // coreX answers on corex:results; core0's forwarder hands a result to the sink named by its tags.
    c.pm.routeHandlers.set(ROUTE, (_cmd, r) => {
      if (r.tags === ROUTE) void this.respond(r);
      else this.log(`Received a corex result for an unknown sink: ${r.tags}`);
    });
  }

  private async containerExited(c: Container): Promise<void> {
    // coreX is the container's PID-namespace init: when it dies, its children die with it.
    c.pm.routeHandlers.delete(ROUTE);
    for (const r of c.pm.runners.values()) r.process?.kill("SIGKILL");
    c.pm.maxJobs = 0;
    this.containers.delete(c.id);
    await this.cleanup(c);
  }

  private async cleanup(c: Container): Promise<void> {
    for (const b of c.binds.reverse()) await run("umount", ["-l", b]).catch(() => undefined);
    c.binds = [];
    // Only remove the root once no bind mount is left inside it (never delete through a mount).
    const mounts = fs.readFileSync("/proc/self/mounts", "utf8");
    if (!mounts.includes(` ${c.root}/`) && !mounts.includes(` ${c.root} `))
      fs.rmSync(c.root, { recursive: true, force: true });
    fs.rmSync(c.tmp, { recursive: true, force: true });
  }

  private list(): GoMap {
    const out: Array<[string, unknown]> = [];
    for (const [name, r] of this.pm.runners) {
      const m = /^core-\+?(\d+)/.exec(name);
      if (!m) continue;
      const st = r.process?.stats();
      out.push([String(Number(m[1])), st ? statsJson({ ...st, cmd: undefined }) : null]);
    }
    return new GoMap(out);
  }

  private dispatch(cmd: WireCommand): string {
    const a = args<{ container: number; command: WireCommand }>(cmd, DISPATCH_ARGS);
    if (a.container <= 0) throw new Error("invalid container id");
    const c = this.containers.get(a.container);
    if (!this.pm.runners.has(`core-${a.container}`) || !c) throw new Error("container does not exist");
    const inner: WireCommand = { ...a.command, id: randomUUID(), tags: ROUTE };
    // core0 RPUSHes to core:<id> on the private redis; coreX BLPOPs it (one at a time, like a sink).
    setImmediate(() => void c.pm.waitForCapacity().then(() => c.pm.maxJobs > 0 && c.pm.push(inner, ROUTE)));
    return inner.id;
  }

  private async terminate(cmd: WireCommand): Promise<null> {
    const a = args<{ container: number }>(cmd, TERMINATE_ARGS);
    const name = `core-${a.container}`;
    const runner = this.pm.runners.get(name);
    if (runner) this.containers.delete(a.container);
    this.pm.kill(name);
    // On the node the SIGKILLed coreX is reaped within moments of this answer; the emulator waits
    // for that (bounded) so a corex.list right after terminate no longer shows it.
    for (let i = 0; runner && this.pm.runners.get(name) === runner && i < 100; i++)
      await new Promise((r) => setTimeout(r, 20));
    return null;
  }

  // ---- bridges (core0/builtin/bridge.go), kept in memory: no kernel links are made ----

  private bridgeCreate(cmd: WireCommand): null {
    const a = args<{
      name: string;
      hwaddr: string;
      network: { mode: string; nat: boolean; settings: unknown };
    }>(cmd, BRIDGE_CREATE_ARGS);
    if (a.hwaddr && !/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(a.hwaddr))
      throw new Error(`address ${a.hwaddr}: invalid MAC address`);
    if (this.bridges.includes(a.name) || hostLinks().includes(a.name)) throw new Error("file exists");
    if (!["", "static", "dnsmasq"].includes(a.network.mode))
      throw new Error(`invalid networking mode ${a.network.mode}`);
    if (a.network.mode) {
      const s = unmarshal<{ cidr: string }>(a.network.settings ?? null, {
        kind: "struct",
        name: "builtin.NetworkStaticSettings",
        fields: [["cidr", { kind: "string" }]],
      });
      if (s.error) throw new Error(s.error);
      if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(s.value.cidr))
        throw new Error(`invalid CIDR address: ${s.value.cidr}`);
    }
    this.bridges.push(a.name);
    return null;
  }

  private bridgeDelete(cmd: WireCommand): null {
    const a = args<{ name: string }>(cmd, BRIDGE_DELETE_ARGS);
    const i = this.bridges.indexOf(a.name);
    if (i < 0) throw new Error(hostLinks().includes(a.name) ? "bridge not found" : "Link not found");
    this.bridges.splice(i, 1);
    return null;
  }

  /**
   * core.reboot: every job is killed and the machine restarts, so the caller never gets a result.
   * The emulated node forgets its jobs, containers and redis data (RAM) and serves again after rebootMs.
   */
  private reboot(): Promise<never> {
    this.rebooting = (async () => {
      this.log("core.reboot: rebooting");
      this.pm.routeHandlers.delete(ROUTE);
      this.pm.killAll();
      for (const c of [...this.containers.values()]) await this.containerExited(c);
      await new Promise((r) => setTimeout(r, this.opts.rebootMs));
      await this.publisher.flushall().catch(() => undefined);
      this.sequence = 0;
      this.bridges.splice(1);
      this.pm.runners.clear();
      this.pm.routeHandlers.set(ROUTE, (_cmd, r) => void this.respond(r));
      this.rebooting = undefined;
      this.log("core.reboot: node is up again");
    })();
    return new Promise<never>(() => undefined);
  }

  get containerCount(): number {
    return this.containers.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pm.maxJobs = Number.MAX_SAFE_INTEGER; // release a sink waiting on a dead (panicked) manager
    this.pm.wake();
    this.pm.routeHandlers.delete(ROUTE);
    this.pm.killAll();
    for (const c of [...this.containers.values()]) await this.containerExited(c);
    // Nothing may outlive the emulator: jobs that ignore SIGTERM are killed outright.
    for (const r of this.pm.runners.values()) r.process?.kill("SIGKILL");
    this.consumer.disconnect();
    await this.loop?.catch(() => undefined);
    this.publisher.disconnect();
  }
}

function blankCommand(): WireCommand {
  return {
    id: "",
    command: "",
    arguments: undefined,
    queue: "",
    stats_interval: 0,
    max_time: 0,
    max_restart: 0,
    recurring_period: 0,
    log_levels: undefined,
    tags: "",
  };
}

/** json.Unmarshal(*cmd.Arguments, &args) in a builtin: its error is the builtin's error. */
function args<R>(cmd: WireCommand, t: Parameters<typeof unmarshal>[1]): R {
  if (cmd.arguments === undefined) throw new NodePanic("nil pointer dereference: *cmd.Arguments");
  const r = unmarshal<R>(cmd.arguments, t);
  if (r.error) throw new Error(r.error);
  return r.value;
}

function zeroStats(cmd: WireCommand): ProcessStats {
  return { cmd, cpu: 0, rss: 0, vms: 0, swap: 0, debug: "" };
}

/** ProcessStats as Go encodes it (cmd as a core.Command with its omitempty fields). */
function statsJson(s: ProcessStats): Record<string, unknown> {
  return {
    cmd: s.cmd ? commandJson(s.cmd) : undefined,
    cpu: s.cpu,
    rss: s.rss,
    vms: s.vms,
    swap: s.swap,
    debug: s.debug,
  };
}

function commandJson(c: WireCommand): Record<string, unknown> {
  return {
    id: c.id,
    command: c.command,
    arguments: c.arguments ?? null,
    queue: c.queue,
    stats_interval: c.stats_interval || undefined,
    max_time: c.max_time || undefined,
    max_restart: c.max_restart || undefined,
    recurring_period: c.recurring_period || undefined,
    log_levels: c.log_levels?.length ? c.log_levels : undefined,
    tags: c.tags,
  };
}

function hostLinks(): string[] {
  try {
    return fs.readdirSync("/sys/class/net");
  } catch {
    return Object.keys(os.networkInterfaces());
  }
}

/** gopsutil disk.Partitions(true): every mount of /proc/self/mounts. */
function diskInfo(): Array<Record<string, string>> {
  return fs
    .readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" "))
    .map(([device, mountpoint, fstype, opts]) => ({ device, mountpoint, fstype, opts }));
}

/** Go's time.Time.String() (go1.7): "2006-01-02 15:04:05.999999999 -0700 MST", here in UTC. */
export function goTime(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  const frac = p(d.getUTCMilliseconds(), 3).replace(/0+$/, "");
  return (
    `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}${frac ? "." + frac : ""} +0000 UTC`
  );
}

function run(cmd: string, argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${argv.join(" ")}: ${err.trim() || `exit ${code}`}`)),
    );
  });
}

export type { Factory };
