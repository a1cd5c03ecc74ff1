/**
 * The build tree: a directory with one YAML file per app (`*.yaml` / `*.yml`) saying what to build,
 * how to run it in a core0 container and how to test it. See docs/BUILD-TREE.md for the format.
 *
 * `loadBuildTree` reads and validates every file and reports every problem at once, each naming
 * the FILE, the FIELD and the FIX. The result is plain JSON (AppSpec), fit for resource inputs.
 *
 * `parseApp` checks the file's keys, then hands each section to its parser (parse-build.ts,
 * parse-run.ts). Plain module: no Pulumi imports (used by stacks, components and scripts).
 */
import * as fs from "fs";
import * as path from "path";
import { appFields, reportUnknownFields } from "./fields";
import { parseOutputs, parseSource, parseSteps } from "./parse-build";
import { parseProcesses, parseRelease, parseResources, parseTests } from "./parse-run";
import {
  APP_FIELDS,
  APP_KEYS,
  type AppSpec,
  type BuildTree,
  BuildTreeError,
  type BuildTreeProblem,
  type LoadOptions,
} from "./spec";

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * Validates one parsed app file, section by section (each section parser reports its own fields);
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
  const unknownKeys = (o: unknown, at: string, known: string[]) => reportUnknownFields(report, o, at, known);
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
