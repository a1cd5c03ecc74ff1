/**
 * The build tree's data model: what one app file (`*.yaml` in the tree) says, once loaded and
 * validated (docs/BUILD-TREE.md has the format), and the error that lists every problem of a tree.
 *
 * Plain module: no Pulumi imports (used by stacks, components, scripts and the other workflows).
 */
/** Where the source comes from: a git repository at a ref, or a local directory (tests, dev). */
export interface AppSource {
  /** git URL (https://, ssh://, git@host:path, file://). Exactly one of git / path. */
  git?: string;
  /** Branch, tag or commit of `git`. Default "master". */
  ref?: string;
  /** Local directory, absolute after loading (relative paths are relative to the app file). */
  path?: string;
}

/** One build step of an app (`build.steps[]`). */
export interface BuildStep {
  /** Shown in logs and errors. Default `step <n>` (1-based). */
  name: string;
  /** Shell command run with `sh -c` on the build node, in the source checkout. */
  run: string;
  /** Kill the step after this long. Default 1800. */
  timeoutSeconds: number;
}

/** One built file and where it goes in the container (`outputs[]`). */
export interface AppOutput {
  /** File produced by the build, relative to the source checkout. */
  from: string;
  /** Absolute path inside the container root. */
  to: string;
  /** Permission bits as an octal string ("0755"); unset = the built file's mode. */
  mode?: string;
}

/** A process the app runs in its container (`processes[]`). */
export interface AppProcess {
  /** Unique within the app; tests name it in `process`. */
  name: string;
  /** Program and arguments, e.g. ["/usr/bin/hello", "--serve"]. */
  args: string[];
  /** Environment of the process, strings only. Default {}. */
  env: Record<string, string>;
  /** Working directory inside the container. Default "/". */
  cwd: string;
}

/** One test of an app (`tests[]`). */
export interface AppTestSpec {
  /** Unique within the app; shown in results. */
  name: string;
  /** The process (by name) that must be running for this test. */
  process: string;
  /** Shell command run in the container (`sh -c`). */
  command: string;
  /** Expected exit code. Default 0. */
  expectExitCode: number;
  /** Regular expression the output (stdout + stderr) must match, if set. */
  expectOutput?: string;
  /** Seconds before the test is killed, 1 to 86400. Default 60. */
  timeoutSeconds: number;
}

/** What the app's container needs (`resources`). */
export interface AppResources {
  /** Memory the container needs, MiB. Default 0 = no check. */
  memoryMb: number;
  /** CPUs the container needs. Default 0 = no check. */
  cpu: number;
}

/** One app of the build tree, validated; plain JSON. */
export interface AppSpec {
  /** Unique in the tree: lowercase letters, digits, `.`, `_`, `-`, at most 63. */
  name: string;
  /** The YAML file the app came from (absolute path), for messages. */
  file: string;
  /** Where the code comes from (`source`). */
  source: AppSource;
  /** Build steps, in order; at least one (`build.steps`). */
  steps: BuildStep[];
  /** Files the build makes; at least one (`outputs`). */
  outputs: AppOutput[];
  /** Processes started in the container before the tests. Default none. */
  processes: AppProcess[];
  /** Tests run in the container. Default none. */
  tests: AppTestSpec[];
  /** What the container needs; 0 = no check. */
  resources: AppResources;
  /** Directories of the templates repo that receive this app's plist. */
  templates: string[];
  /** Branches of the templates repo to release to. */
  branches: string[];
}

/** A loaded build tree. */
export interface BuildTree {
  /** The tree directory, absolute. */
  dir: string;
  /** Apps sorted by name. */
  apps: AppSpec[];
}

/** Options of `loadBuildTree`. */
export interface LoadOptions {
  /** Branches of the templates repo; an app naming another branch is an error. */
  knownBranches?: string[];
}

/** One problem of a build tree. */
export interface BuildTreeProblem {
  /** The app file (relative to the working directory when inside it), or the tree directory. */
  file: string;
  /** The field, e.g. `tests[0].process`; `(file)`, `(yaml)` or `(directory)` for the whole. */
  field: string;
  /** What is wrong. */
  problem: string;
  /** How to fix it. */
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

/** The top-level keys of an app file. */
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
