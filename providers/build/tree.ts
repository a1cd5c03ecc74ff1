/**
 * The build tree: a directory with one YAML file per app (`*.yaml` / `*.yml`) saying what to build,
 * how to run it in a core0 container and how to test it. See docs/BUILD-TREE.md for the format.
 *
 * `loadBuildTree` reads and validates every file and reports every problem at once, each naming
 * the FILE, the FIELD and the FIX. The result is plain JSON (AppSpec), fit for resource inputs.
 *
 * Plain module: no Pulumi imports (used by stacks, components and scripts).
 */
import * as fs from "fs";
import * as path from "path";
import { didYouMean } from "../shared/validate";

/** Where the source comes from: a git repository at a ref, or a local directory (tests, dev). */
export interface AppSource {
  /** git URL (https://, ssh://, git@host:path, file://). Exactly one of git / path. */
  git?: string;
  /** Branch, tag or commit of `git`. Default "master". */
  ref?: string;
  /** Local directory, absolute after loading (relative paths are relative to the app file). */
  path?: string;
}

export interface BuildStep {
  name: string;
  /** Shell command run with `sh -c` on the build node, in the source checkout. */
  run: string;
  /** Kill the step after this long. Default 1800. */
  timeoutSeconds: number;
}

export interface AppOutput {
  /** File produced by the build, relative to the source checkout. */
  from: string;
  /** Absolute path inside the container root. */
  to: string;
  /** Permission bits as an octal string ("0755"); unset = the built file's mode. */
  mode?: string;
}

export interface AppProcess {
  name: string;
  /** Program and arguments, e.g. ["/usr/bin/hello", "--serve"]. */
  args: string[];
  env: Record<string, string>;
  /** Working directory inside the container. Default "/". */
  cwd: string;
}

export interface AppTestSpec {
  name: string;
  /** The process (by name) that must be running for this test. */
  process: string;
  /** Shell command run in the container (`sh -c`). */
  command: string;
  /** Expected exit code. Default 0. */
  expectExitCode: number;
  /** Regular expression the output (stdout + stderr) must match, if set. */
  expectOutput?: string;
  /** Default 60. */
  timeoutSeconds: number;
}

export interface AppResources {
  /** Memory the container needs, MiB. Default 0 = no check. */
  memoryMb: number;
  /** CPUs the container needs. Default 0 = no check. */
  cpu: number;
}

export interface AppSpec {
  name: string;
  /** The YAML file the app came from (absolute path), for messages. */
  file: string;
  source: AppSource;
  steps: BuildStep[];
  outputs: AppOutput[];
  processes: AppProcess[];
  tests: AppTestSpec[];
  resources: AppResources;
  /** Directories of the templates repo that receive this app's plist. */
  templates: string[];
  /** Branches of the templates repo to release to. */
  branches: string[];
}

export interface BuildTree {
  /** The tree directory, absolute. */
  dir: string;
  /** Apps sorted by name. */
  apps: AppSpec[];
}

export interface LoadOptions {
  /** Branches of the templates repo; an app naming another branch is an error. */
  knownBranches?: string[];
}

export interface BuildTreeProblem {
  file: string;
  field: string;
  problem: string;
  fix: string;
}

/** Every problem found in a build tree, one line each: `<file>: <field>: <problem>. Fix: <fix>`. */
export class BuildTreeError extends Error {
  readonly problems: BuildTreeProblem[];
  constructor(dir: string, problems: BuildTreeProblem[]) {
    const message =
      `build tree ${dir}: ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
      problems.map((p) => `  ${p.file}: ${p.field}: ${p.problem}. Fix: ${p.fix}`).join("\n");
    super(message);
    this.message = message;
    this.name = "BuildTreeError";
    this.problems = problems;
  }
}

/** The fields of an app file, per section (unknown ones are errors with the nearest known name). */
export const APP_FIELDS = {
  source: ["git", "ref", "path"],
  build: ["steps"],
  "build.steps[]": ["name", "run", "timeoutSeconds"],
  "outputs[]": ["from", "to", "mode"],
  "processes[]": ["name", "args", "env", "cwd"],
  "tests[]": ["name", "process", "command", "expectExitCode", "expectOutput", "timeoutSeconds"],
  resources: ["memoryMb", "cpu"],
};

export const APP_KEYS = [
  "name",
  "source",
  "build",
  "outputs",
  "processes",
  "tests",
  "resources",
  "templates",
  "branches",
];
const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** What every section parser of an app file shares: the problem sink and typed field readers. */
interface AppFields {
  report: (field: string, problem: string, fix: string) => void;
  /** A non-empty string, or undefined after reporting the field. */
  str: (field: string, v: unknown, fix: string) => string | undefined;
  /** A list (non-empty when `required`), or [] after reporting the field. */
  list: (field: string, v: unknown, fix: string, required?: boolean) => unknown[];
  /** A whole number in [min, max], `dflt` when unset, or `dflt` after reporting the field. */
  int: (field: string, v: unknown, dflt: number, min: number, max: number) => number;
}

/** The field readers, reporting through `report`. */
function appFields(report: AppFields["report"]): AppFields {
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

/** `source`: a git URL at a ref, or a local directory (absolute after loading). */
function parseSource(c: AppFields, file: string, d: Record<string, unknown>): AppSource {
  const { report, str } = c;
  const source: AppSource = {};
  const s = d.source as Record<string, unknown> | undefined;
  if (!s || typeof s !== "object" || Array.isArray(s)) {
    report(
      "source",
      s === undefined ? "is missing" : "must be a mapping",
      "add `source: {git: <url>, ref: <branch>}` or `source: {path: <dir>}`",
    );
  } else {
    if ((s.git === undefined) === (s.path === undefined)) {
      report(
        "source",
        "needs exactly one of git or path",
        "set `git: <url>` (with `ref:`) or `path: <local dir>`",
      );
    } else if (s.git !== undefined) {
      const git = str("source.git", s.git, "set the repository URL");
      if (git) source.git = git;
      source.ref = s.ref === undefined ? "master" : str("source.ref", s.ref, "set a branch, tag or commit");
    } else {
      const p = str("source.path", s.path, "set a directory, relative to this file or absolute");
      if (s.ref !== undefined) report("source.ref", "applies to git sources only", "remove ref, or use git");
      if (p) {
        const abs = path.resolve(path.dirname(file), p);
        if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
          report("source.path", `directory ${abs} does not exist`, "point it at the app's source directory");
        }
        source.path = abs;
      }
    }
  }

  return source;
}

/** `build.steps`: shell commands, or {name, run, timeoutSeconds}. */
function parseSteps(c: AppFields, d: Record<string, unknown>): BuildStep[] {
  const { report, str, list, int } = c;
  const steps: BuildStep[] = [];
  const b = d.build as Record<string, unknown> | undefined;
  if (!b || typeof b !== "object" || Array.isArray(b)) {
    report("build", b === undefined ? "is missing" : "must be a mapping", "add `build: {steps: [make]}`");
  } else {
    list("build.steps", b.steps, "list shell commands, e.g. `steps: [make]`", true).forEach((st, i) => {
      const f = `build.steps[${i}]`;
      if (typeof st === "string" && st.trim()) {
        steps.push({ name: `step ${i + 1}`, run: st, timeoutSeconds: 1800 });
        return;
      }
      const o = st as Record<string, unknown>;
      if (!o || typeof o !== "object") {
        report(
          f,
          "must be a command string or {name, run, timeoutSeconds?}",
          "write e.g. `- make` or `- {name: compile, run: make}`",
        );
        return;
      }
      const run = str(`${f}.run`, o.run, "set the shell command to run");
      steps.push({
        name: typeof o.name === "string" && o.name.trim() ? o.name : `step ${i + 1}`,
        run: run ?? "",
        timeoutSeconds: int(`${f}.timeoutSeconds`, o.timeoutSeconds, 1800, 1, 86_400),
      });
    });
  }

  return steps;
}

/** `outputs`: built files and where they go in the container. */
function parseOutputs(c: AppFields, d: Record<string, unknown>): AppOutput[] {
  const { report, str, list } = c;
  const outputs: AppOutput[] = [];
  const targets: string[] = [];
  list(
    "outputs",
    d.outputs,
    "list files the build makes: `- {from: hello, to: /usr/bin/hello}`",
    true,
  ).forEach((o, i) => {
    const f = `outputs[${i}]`;
    const out = o as Record<string, unknown>;
    if (!out || typeof out !== "object") {
      report(
        f,
        "must be a mapping",
        'write `- {from: <built file>, to: </path/in/container>, mode: "0755"}`',
      );
      return;
    }
    const from = str(`${f}.from`, out.from, "set the built file, relative to the source checkout");
    if (from && (from.startsWith("/") || from.split("/").includes(".."))) {
      report(`${f}.from`, `"${from}" leaves the source checkout`, "use a relative path without '..'");
    }
    const to = str(`${f}.to`, out.to, "set the absolute path inside the container");
    if (to && (!to.startsWith("/") || to.split("/").includes("..") || /[|\n]/.test(to))) {
      report(`${f}.to`, `"${to}" is not an absolute path inside the container`, "use e.g. /usr/bin/<name>");
    }
    if (to && targets.includes(to))
      report(`${f}.to`, `"${to}" is already the target of another output`, "give each output its own path");
    if (to) targets.push(to);
    let mode: string | undefined;
    if (out.mode !== undefined) {
      if (typeof out.mode === "string" && /^0?[0-7]{3,4}$/.test(out.mode)) mode = out.mode.padStart(4, "0");
      else
        report(
          `${f}.mode`,
          "must be a quoted octal string",
          'write e.g. mode: "0755" (quoted: YAML reads 0755 as a number)',
        );
    }
    outputs.push({ from: from ?? "", to: to ?? "", ...(mode ? { mode } : {}) });
  });

  return outputs;
}

/** `processes`: what runs in the container. */
function parseProcesses(c: AppFields, d: Record<string, unknown>): AppProcess[] {
  const { report, str, list } = c;
  const processes: AppProcess[] = [];
  list("processes", d.processes, "list processes: `- {name: web, args: [/usr/bin/web]}`").forEach((p, i) => {
    const f = `processes[${i}]`;
    const o = p as Record<string, unknown>;
    if (!o || typeof o !== "object") {
      report(f, "must be a mapping", "write `- {name: <name>, args: [<program>, ...]}`");
      return;
    }
    const pname = str(`${f}.name`, o.name, "name the process (tests refer to it)");
    if (pname && processes.some((x) => x.name === pname))
      report(`${f}.name`, `"${pname}" is defined twice`, "give each process its own name");
    const args = list(`${f}.args`, o.args, "set args: [<program>, <arg>...]", true);
    if (!args.every((a) => typeof a === "string"))
      report(`${f}.args`, "must be a list of strings", "quote numbers, e.g. ['--port', '80']");
    const env = o.env ?? {};
    if (
      typeof env !== "object" ||
      Array.isArray(env) ||
      !Object.values(env as object).every((v) => typeof v === "string")
    ) {
      report(`${f}.env`, "must be a map of strings", 'quote values, e.g. PORT: "80"');
    }
    if (o.cwd !== undefined && (typeof o.cwd !== "string" || !o.cwd.startsWith("/"))) {
      report(`${f}.cwd`, "must be an absolute path", "use e.g. cwd: /");
    }
    processes.push({
      name: pname ?? "",
      args: args.map(String),
      env: (env as Record<string, string>) ?? {},
      cwd: typeof o.cwd === "string" ? o.cwd : "/",
    });
  });

  return processes;
}

/** `tests`: commands run against a named process. */
function parseTests(c: AppFields, d: Record<string, unknown>, processes: AppProcess[]): AppTestSpec[] {
  const { report, str, list, int } = c;
  const tests: AppTestSpec[] = [];
  list(
    "tests",
    d.tests,
    "list tests: `- {name: ping, process: web, command: 'wget -qO- localhost'}`",
  ).forEach((t, i) => {
    const f = `tests[${i}]`;
    const o = t as Record<string, unknown>;
    if (!o || typeof o !== "object") {
      report(
        f,
        "must be a mapping",
        "write `- {name, process, command, expectExitCode?, expectOutput?, timeoutSeconds?}`",
      );
      return;
    }
    const tname = str(`${f}.name`, o.name, "name the test");
    if (tname && tests.some((x) => x.name === tname))
      report(`${f}.name`, `"${tname}" is defined twice`, "give each test its own name");
    const proc = str(`${f}.process`, o.process, "name the process it needs (one of processes[].name)");
    if (proc && !processes.some((p) => p.name === proc)) {
      report(
        `${f}.process`,
        `refers to process "${proc}", which is not defined`,
        processes.length
          ? `use one of ${processes.map((p) => p.name).join(", ")}, or add it to processes`
          : "add it to processes",
      );
    }
    const command = str(`${f}.command`, o.command, "set the shell command that runs the test");
    if (o.expectOutput !== undefined) {
      try {
        new RegExp(String(o.expectOutput));
      } catch (err) {
        report(
          `${f}.expectOutput`,
          `is not a valid regular expression (${(err as Error).message})`,
          "fix the pattern",
        );
      }
    }
    tests.push({
      name: tname ?? "",
      process: proc ?? "",
      command: command ?? "",
      expectExitCode: int(`${f}.expectExitCode`, o.expectExitCode, 0, 0, 255),
      ...(o.expectOutput !== undefined ? { expectOutput: String(o.expectOutput) } : {}),
      timeoutSeconds: int(`${f}.timeoutSeconds`, o.timeoutSeconds, 60, 1, 86_400),
    });
  });

  return tests;
}

/** `resources`: memory and CPUs the container needs. */
function parseResources(c: AppFields, d: Record<string, unknown>): AppResources {
  const { report, int } = c;
  const r = (d.resources ?? {}) as Record<string, unknown>;
  if (typeof r !== "object" || Array.isArray(r))
    report("resources", "must be a mapping", "write `resources: {memoryMb: 64, cpu: 1}`");
  const resources: AppResources = {
    memoryMb: int("resources.memoryMb", r.memoryMb, 0, 0, 16 * 1024 * 1024),
    cpu: int("resources.cpu", r.cpu, 0, 0, 4096),
  };

  return resources;
}

/** `templates` and `branches`: where the plist is released. */
function parseRelease(
  c: AppFields,
  d: Record<string, unknown>,
  opts: LoadOptions,
): { templates: unknown[]; branches: unknown[] } {
  const { report, list } = c;
  const templates = list(
    "templates",
    d.templates,
    "list templates repo dirs, e.g. `templates: [apps/hello]`",
    true,
  );
  templates.forEach((t, i) => {
    if (typeof t !== "string" || !t || t.startsWith("/") || t.split("/").includes("..")) {
      report(
        `templates[${i}]`,
        "must be a relative directory inside the templates repo",
        "write e.g. apps/hello",
      );
    }
  });
  const branches = list(
    "branches",
    d.branches,
    "list templates repo branches, e.g. `branches: [master]`",
    true,
  );
  branches.forEach((br, i) => {
    if (typeof br !== "string" || !br) {
      report(`branches[${i}]`, "must be a branch name", "write e.g. master");
    } else if (opts.knownBranches && !opts.knownBranches.includes(br)) {
      report(
        `branches[${i}]`,
        `"${br}" is not a known branch`,
        `use one of ${opts.knownBranches.join(", ") || "(none configured)"}`,
      );
    }
  });

  return { templates, branches };
}

/**
 * Validates one parsed app file, section by section (each parser above reports its own fields);
 * pushes problems, returns the spec when usable.
 */
function parseApp(
  file: string,
  doc: unknown,
  opts: LoadOptions,
  report: (field: string, problem: string, fix: string) => void,
): AppSpec | undefined {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
    report("(file)", "is not a YAML mapping", "write `name: ...`, `source: ...` and so on at the top level");
    return undefined;
  }
  const d = doc as Record<string, unknown>;
  const unknownKeys = (o: unknown, at: string, known: string[]) => {
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
  };
  unknownKeys(d, "", APP_KEYS);
  unknownKeys(d.source, "source", APP_FIELDS.source);
  unknownKeys(d.build, "build", APP_FIELDS.build);
  unknownKeys(d.resources, "resources", APP_FIELDS.resources);
  const each = (list: unknown, at: string, known: string[]) => {
    if (Array.isArray(list)) list.forEach((o, i) => unknownKeys(o, `${at}[${i}]`, known));
  };
  each((d.build as { steps?: unknown } | undefined)?.steps, "build.steps", APP_FIELDS["build.steps[]"]);
  each(d.outputs, "outputs", APP_FIELDS["outputs[]"]);
  each(d.processes, "processes", APP_FIELDS["processes[]"]);
  each(d.tests, "tests", APP_FIELDS["tests[]"]);
  const c = appFields(report);
  const { str } = c;
  const name = str("name", d.name, "add `name: <app name>` (lowercase letters, digits, . _ -)");
  if (name !== undefined && !NAME_RE.test(name)) {
    report(
      "name",
      `"${name}" is not a valid app name`,
      "use lowercase letters, digits, '.', '_' and '-' (max 63)",
    );
  }

  const source = parseSource(c, file, d);
  const steps = parseSteps(c, d);
  const outputs = parseOutputs(c, d);
  const processes = parseProcesses(c, d);
  const tests = parseTests(c, d, processes);
  const resources = parseResources(c, d);
  const { templates, branches } = parseRelease(c, d, opts);

  return {
    name: name ?? "",
    file,
    source,
    steps,
    outputs,
    processes,
    tests,
    resources,
    templates: templates.map(String),
    branches: branches.map(String),
  };
}

/** Reads and validates every `*.yaml` / `*.yml` file in `dir`; throws BuildTreeError listing every problem. */
export function loadBuildTree(dir: string, opts: LoadOptions = {}): BuildTree {
  const yaml = require("js-yaml") as typeof import("js-yaml");
  const abs = path.resolve(dir);
  const problems: BuildTreeProblem[] = [];
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    throw new BuildTreeError(abs, [
      {
        file: abs,
        field: "(directory)",
        problem: "does not exist or is not a directory",
        fix: "point at the build tree directory",
      },
    ]);
  }
  const files = fs
    .readdirSync(abs)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(abs, f));
  if (files.length === 0) {
    problems.push({
      file: abs,
      field: "(directory)",
      problem: "holds no *.yaml app files",
      fix: "add one YAML file per app",
    });
  }
  const apps: AppSpec[] = [];
  for (const file of files) {
    const rel = path.relative(process.cwd(), file) || file;
    const report = (field: string, problem: string, fix: string) =>
      problems.push({ file: rel, field, problem, fix });
    let doc: unknown;
    try {
      doc = yaml.load(fs.readFileSync(file, "utf8"), { filename: file });
    } catch (err) {
      report("(yaml)", `does not parse: ${(err as Error).message.split("\n")[0]}`, "fix the YAML syntax");
      continue;
    }
    const app = parseApp(file, doc, opts, report);
    if (!app || !app.name) continue;
    const dup = apps.find((a) => a.name === app.name);
    if (dup) {
      report(
        "name",
        `app "${app.name}" is also defined in ${path.relative(process.cwd(), dup.file) || dup.file}`,
        "give each app a unique name",
      );
      continue;
    }
    apps.push(app);
  }
  if (problems.length > 0) throw new BuildTreeError(abs, problems);
  return { dir: abs, apps: apps.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
}
