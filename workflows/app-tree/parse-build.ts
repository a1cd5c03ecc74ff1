/**
 * Parsers of an app file's build sections: `source` (where the code comes from), `build.steps`
 * (what runs on the build node) and `outputs` (built files and where they go in the container).
 * Each reports its own fields through the shared readers and returns what it could read.
 */
import * as fs from "fs";
import * as path from "path";
import type { AppFields } from "./fields";
import type { AppOutput, AppSource, BuildStep } from "./spec";

/** `source`: a git URL at a ref, or a local directory (absolute after loading). */
export function parseSource(c: AppFields, file: string, d: Record<string, unknown>): AppSource {
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
export function parseSteps(c: AppFields, d: Record<string, unknown>): BuildStep[] {
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
export function parseOutputs(c: AppFields, d: Record<string, unknown>): AppOutput[] {
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
