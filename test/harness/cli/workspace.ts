/**
 * Where the `pulumi` stand-in keeps things, laid out like the CLI's DIY (file) backend
 * (pulumi/pulumi pkg/backend/diy/store.go, lock.go at 1b5949891b): `<backend>/.pulumi/stacks/<project>/`
 * holds each stack, `<backend>/.pulumi/locks/<project>/<stack>/` its update lock. The contents are
 * the stand-in's own: `<stack>.json` is the engine harness's state file (not a Pulumi checkpoint),
 * `<stack>.stack.json` the stack record (update history, config at the last update).
 * Config lives in `Pulumi.<stack>.yaml` beside `Pulumi.yaml` (secrets as `secure: v1:…`), the
 * selected stack in `$PULUMI_HOME/workspaces/`, the `login` URL in `$PULUMI_HOME/credentials.json`.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { SecretCipher } from "../secrets";
import { CliError, EXIT } from "./args";

export interface Project {
  name: string;
  /** Directory of Pulumi.yaml. */
  dir: string;
  file: string;
  /** Absolute path of the program module. */
  program: string;
  backendUrl?: string;
}

function cipherClass(): typeof SecretCipher {
  return (require("../secrets") as typeof import("../secrets")).SecretCipher;
}

function yaml(): typeof import("js-yaml") {
  return require("js-yaml") as typeof import("js-yaml");
}

export function pulumiHome(): string {
  return process.env.PULUMI_HOME || path.join(os.homedir(), ".pulumi");
}

export function loadProject(cwd: string): Project {
  let dir = path.resolve(cwd);
  for (;;) {
    for (const ext of ["yaml", "yml"]) {
      const file = path.join(dir, `Pulumi.${ext}`);
      if (fs.existsSync(file)) return parseProject(file);
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new CliError(
    `no Pulumi.yaml project file found (searching upwards from ${cwd}). Fix: run in a project directory`,
  );
}

function parseProject(file: string): Project {
  const doc = (yaml().load(fs.readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>;
  const name = doc.name;
  if (typeof name !== "string" || !name) throw new CliError(`${file}: project is missing a 'name' attribute`);
  const runtime = typeof doc.runtime === "object" ? (doc.runtime as { name?: string }).name : doc.runtime;
  if (runtime !== "nodejs")
    throw new CliError(
      `${file}: runtime is ${String(runtime)}; the pulumi stand-in runs nodejs programs only`,
    );
  const dir = path.dirname(file);
  let program = path.resolve(dir, typeof doc.main === "string" ? doc.main : ".");
  if (fs.existsSync(program) && fs.statSync(program).isDirectory()) {
    const candidates = ["index.ts", "index.js"].map((f) => path.join(program, f));
    const found = candidates.find((c) => fs.existsSync(c));
    if (!found) throw new CliError(`${file}: main ${program} has no index.ts or index.js`);
    program = found;
  }
  if (!fs.existsSync(program)) throw new CliError(`${file}: main program ${program} does not exist`);
  const backend = doc.backend as { url?: string } | undefined;
  return { name, dir, file, program, backendUrl: backend?.url };
}

/** `file://` backend directory: PULUMI_BACKEND_URL, else Pulumi.yaml `backend.url`, else `pulumi login`. */
export function backendUrl(project?: Project): string {
  const fromEnv = process.env.PULUMI_BACKEND_URL;
  if (fromEnv) return fromEnv;
  if (project?.backendUrl) return project.backendUrl;
  const creds = path.join(pulumiHome(), "credentials.json");
  if (fs.existsSync(creds)) {
    const current = (JSON.parse(fs.readFileSync(creds, "utf8")) as { current?: string }).current;
    if (current) return current;
  }
  throw new CliError(
    "no backend: the pulumi stand-in has only the file backend. Fix: set PULUMI_BACKEND_URL=file://<dir> or run `pulumi login --local`",
    3,
  );
}

export function backendDir(url: string): string {
  if (!url.startsWith("file://"))
    throw new CliError(`backend ${url}: the pulumi stand-in supports only file:// backends`, 3);
  const rest = url.slice("file://".length);
  if (rest === "~" || rest.startsWith("~/")) return path.join(os.homedir(), rest.slice(1));
  return path.resolve(rest || "/");
}

export function login(url: string): void {
  backendDir(url);
  const home = pulumiHome();
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(home, "credentials.json"), JSON.stringify({ current: url }, null, 4) + "\n");
}

export function passphrase(): string {
  if (process.env.PULUMI_CONFIG_PASSPHRASE !== undefined) return process.env.PULUMI_CONFIG_PASSPHRASE;
  const file = process.env.PULUMI_CONFIG_PASSPHRASE_FILE;
  if (file) {
    try {
      return fs.readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      throw new CliError(`PULUMI_CONFIG_PASSPHRASE_FILE ${file}: ${(err as Error).message}`);
    }
  }
  throw new CliError(
    "passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables",
  );
}

/** `org/project/stack`, `project/stack` or `stack` → `stack`. */
export function stackName(ref: string): string {
  const name = ref.split("/").pop() ?? "";
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    throw new CliError(
      `stack name '${ref}' is invalid: it may only contain alphanumeric, hyphens, underscores, or periods`,
      2,
    );
  return name;
}

/** One line of `stack history --json`, the fields the Automation API's UpdateSummary reads. */
export interface HistoryEntry {
  version: number;
  kind: "update" | "refresh" | "destroy";
  startTime: string;
  endTime: string;
  message: string;
  environment: Record<string, string>;
  config: Record<string, { value: string; secret: boolean }>;
  result: "succeeded" | "failed";
  resourceChanges: Record<string, number>;
}

interface StackRecord {
  name: string;
  created: string;
  history: HistoryEntry[];
  /** Pulumi.<stack>.yaml text at the last update (for `config refresh`). */
  lastConfig?: string;
}

export interface ConfigEntry {
  value: unknown;
  secret: boolean;
}

export class Backend {
  readonly dir: string;

  constructor(
    readonly url: string,
    readonly project: Project,
  ) {
    this.dir = backendDir(url);
  }

  private stacksDir(): string {
    return path.join(this.dir, ".pulumi", "stacks", this.project.name);
  }

  recordFile(stack: string): string {
    return path.join(this.stacksDir(), `${stack}.stack.json`);
  }

  stateFile(stack: string): string {
    return path.join(this.stacksDir(), `${stack}.json`);
  }

  lockDir(stack: string): string {
    return path.join(this.dir, ".pulumi", "locks", this.project.name, stack);
  }

  exists(stack: string): boolean {
    return fs.existsSync(this.recordFile(stack));
  }

  stacks(): string[] {
    if (!fs.existsSync(this.stacksDir())) return [];
    return fs
      .readdirSync(this.stacksDir())
      .filter((f) => f.endsWith(".stack.json"))
      .map((f) => f.slice(0, -".stack.json".length))
      .sort();
  }

  requireStack(stack: string): void {
    if (!this.exists(stack)) throw new CliError(`no stack named '${stack}' found`, EXIT.stackNotFound);
  }

  create(stack: string): void {
    if (this.exists(stack)) throw new CliError(`stack '${stack}' already exists`);
    const rec: StackRecord = { name: stack, created: new Date().toISOString(), history: [] };
    fs.mkdirSync(this.stacksDir(), { recursive: true });
    fs.writeFileSync(this.recordFile(stack), JSON.stringify(rec, null, 2) + "\n", { flag: "wx" });
  }

  remove(stack: string): void {
    for (const f of [this.recordFile(stack), this.stateFile(stack)]) fs.rmSync(f, { force: true });
    fs.rmSync(this.lockDir(stack), { recursive: true, force: true });
  }

  record(stack: string): StackRecord {
    this.requireStack(stack);
    return JSON.parse(fs.readFileSync(this.recordFile(stack), "utf8")) as StackRecord;
  }

  addHistory(stack: string, entry: HistoryEntry, configText: string): void {
    const rec = this.record(stack);
    rec.history.push(entry);
    rec.lastConfig = configText;
    const tmp = `${this.recordFile(stack)}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(rec, null, 2) + "\n");
    fs.renameSync(tmp, this.recordFile(stack));
  }

  /**
   * Takes the stack's update lock, or fails the way the DIY backend does when another update
   * holds it (the Automation API maps that text to ConcurrentUpdateError). Returns the release.
   */
  lock(stack: string): () => void {
    const dir = this.lockDir(stack);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "update.json");
    const body = {
      pid: process.pid,
      username: os.userInfo().username,
      hostname: os.hostname(),
      timestamp: new Date().toISOString(),
    };
    try {
      fs.writeFileSync(file, JSON.stringify(body) + "\n", { flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let holder = "";
      try {
        const h = JSON.parse(fs.readFileSync(file, "utf8")) as typeof body;
        holder = `\n  ${file}: created by ${h.username}@${h.hostname} (pid ${h.pid}) at ${h.timestamp}`;
      } catch {
        holder = `\n  ${file}`;
      }
      throw new CliError(
        "the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file." +
          holder,
      );
    }
    return () => fs.rmSync(file, { force: true });
  }

  locked(stack: string): boolean {
    return fs.existsSync(path.join(this.lockDir(stack), "update.json"));
  }
}

/** The selected stack for this project, kept under $PULUMI_HOME/workspaces like the CLI. */
export function workspaceFile(project: Project): string {
  const hash = crypto.createHash("sha1").update(project.file).digest("hex");
  return path.join(pulumiHome(), "workspaces", `${project.name}-${hash}-workspace.json`);
}

export function currentStack(project: Project): string | undefined {
  const f = workspaceFile(project);
  if (!fs.existsSync(f)) return undefined;
  return (JSON.parse(fs.readFileSync(f, "utf8")) as { stack?: string }).stack || undefined;
}

export function selectStack(project: Project, stack: string | undefined): void {
  const f = workspaceFile(project);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, JSON.stringify({ stack: stack ?? "" }, null, 4) + "\n");
}

const CHECK_WORD = "pulumi";

/** `Pulumi.<stack>.yaml`: `encryptionsalt` and `config` (plain values, `{secure: "v1:…"}` secrets). */
export class StackConfig {
  readonly file: string;
  private doc: Record<string, unknown>;
  private cipher?: SecretCipher;

  constructor(
    readonly project: Project,
    readonly stack: string,
  ) {
    this.file = path.join(project.dir, `Pulumi.${stack}.yaml`);
    this.doc = fs.existsSync(this.file)
      ? ((yaml().load(fs.readFileSync(this.file, "utf8")) ?? {}) as Record<string, unknown>)
      : {};
  }

  text(): string {
    return fs.existsSync(this.file) ? fs.readFileSync(this.file, "utf8") : "";
  }

  restore(text: string): void {
    fs.writeFileSync(this.file, text);
    this.doc = (yaml().load(text) ?? {}) as Record<string, unknown>;
  }

  private values(): Record<string, unknown> {
    if (!this.doc.config || typeof this.doc.config !== "object") this.doc.config = {};
    return this.doc.config as Record<string, unknown>;
  }

  /** `key` → `project:key` (keys with a namespace stay as they are), as the CLI does. */
  fullKey(key: string): string {
    if (!key) throw new CliError("config key must not be empty", 2);
    return key.includes(":") ? key : `${this.project.name}:${key}`;
  }

  private getCipher(): SecretCipher {
    if (this.cipher) return this.cipher;
    const pass = passphrase();
    const salt = this.doc.encryptionsalt;
    if (typeof salt === "string") {
      const [v, s, ...check] = salt.split(":");
      const cipher = new (cipherClass())(pass, s ?? "");
      let ok = false;
      try {
        ok = v === "v1" && cipher.decrypt(check.join(":")) === CHECK_WORD;
      } catch {
        ok = false;
      }
      if (!ok)
        throw new CliError(
          `${this.file}: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase or set PULUMI_CONFIG_PASSPHRASE_FILE to a file containing the passphrase`,
        );
      this.cipher = cipher;
    } else {
      this.cipher = new (cipherClass())(pass, cipherClass().newSalt());
      this.doc = {
        secretsprovider: "passphrase",
        encryptionsalt: `v1:${this.cipher.salt}:${this.cipher.encrypt(CHECK_WORD)}`,
        ...this.doc,
      };
    }
    return this.cipher;
  }

  /** Every key, secrets decrypted when `reveal`, else shown as "[secret]". */
  entries(reveal: boolean): Record<string, ConfigEntry> {
    const out: Record<string, ConfigEntry> = {};
    for (const [k, v] of Object.entries(this.values())) {
      const secret = containsSecure(v);
      out[k] = { value: secret && !reveal ? "[secret]" : this.decode(v), secret };
    }
    return out;
  }

  private decode(v: unknown): unknown {
    if (isSecure(v)) return this.getCipher().decrypt(v.secure);
    if (Array.isArray(v)) return v.map((x) => this.decode(x));
    if (v && typeof v === "object")
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.decode(x)]));
    return v;
  }

  get(key: string, usePath: boolean): ConfigEntry | undefined {
    const [root, ...rest] = usePath ? splitPath(key) : [key];
    const full = this.fullKey(String(root));
    let v: unknown = this.values()[full];
    for (const seg of rest) {
      if (v === undefined || v === null || typeof v !== "object") return undefined;
      v = (v as Record<string | number, unknown>)[seg];
    }
    if (v === undefined) return undefined;
    return { value: this.decode(v), secret: containsSecure(v) };
  }

  set(key: string, value: string, secret: boolean, usePath: boolean): void {
    const stored: unknown = secret ? { secure: this.getCipher().encrypt(value) } : value;
    if (!usePath) {
      this.values()[this.fullKey(key)] = stored;
      return;
    }
    const [root, ...rest] = splitPath(key);
    const full = this.fullKey(String(root));
    if (!rest.length) {
      this.values()[full] = stored;
      return;
    }
    const typed = secret ? stored : parseTyped(value);
    let cur = this.values()[full];
    if (cur === undefined || cur === null || typeof cur !== "object") {
      cur = typeof rest[0] === "number" ? [] : {};
      this.values()[full] = cur;
    }
    let node = cur as Record<string | number, unknown>;
    for (let i = 0; i < rest.length - 1; i++) {
      const seg = rest[i];
      let next = node[seg];
      if (next === undefined || next === null || typeof next !== "object") {
        next = typeof rest[i + 1] === "number" ? [] : {};
        node[seg] = next;
      }
      node = next as Record<string | number, unknown>;
    }
    node[rest[rest.length - 1]] = typed;
  }

  setJson(full: string, value: unknown, secret: boolean): void {
    this.values()[full] = secret
      ? { secure: this.getCipher().encrypt(typeof value === "string" ? value : JSON.stringify(value)) }
      : value;
  }

  remove(key: string, usePath: boolean): void {
    const [root, ...rest] = usePath ? splitPath(key) : [key];
    const full = this.fullKey(String(root));
    if (!rest.length) {
      delete this.values()[full];
      return;
    }
    let node = this.values()[full] as Record<string | number, unknown> | undefined;
    for (let i = 0; node && i < rest.length - 1; i++)
      node = node[rest[i]] as Record<string | number, unknown>;
    if (node && typeof node === "object") {
      const last = rest[rest.length - 1];
      if (Array.isArray(node) && typeof last === "number") node.splice(last, 1);
      else delete node[last];
    }
  }

  /** Config as the engine harness takes it: strings (objects as JSON), secrets as `{secret}`. */
  forHarness(): Record<string, string | { secret: string }> {
    const out: Record<string, string | { secret: string }> = {};
    for (const [k, e] of Object.entries(this.entries(true))) {
      const text = typeof e.value === "string" ? e.value : JSON.stringify(e.value);
      out[k] = e.secret ? { secret: text } : text;
    }
    return out;
  }

  save(): void {
    const hasValues = Object.keys(this.values()).length > 0;
    if (!hasValues && !this.doc.encryptionsalt && !fs.existsSync(this.file)) return;
    fs.writeFileSync(this.file, yaml().dump(this.doc, { lineWidth: -1 }));
  }
}

function isSecure(v: unknown): v is { secure: string } {
  return (
    !!v &&
    typeof v === "object" &&
    !Array.isArray(v) &&
    typeof (v as { secure?: unknown }).secure === "string" &&
    Object.keys(v).length === 1
  );
}

function containsSecure(v: unknown): boolean {
  if (isSecure(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecure);
  if (v && typeof v === "object") return Object.values(v).some(containsSecure);
  return false;
}

/** `a.b[0].c` / `a["x.y"]` → ["a", "b", 0, "c"] / ["a", "x.y"] (the CLI's `--path` syntax). */
export function splitPath(p: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\["([^"]*)"\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(p))) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(m[3]);
  }
  if (!out.length) throw new CliError(`invalid config path '${p}'`, 2);
  return out;
}

function parseTyped(v: string): unknown {
  if (v === "true") return true;
  if (v === "false") return false;
  if (/^-?(0|[1-9]\d*)$/.test(v)) return Number(v);
  return v;
}
