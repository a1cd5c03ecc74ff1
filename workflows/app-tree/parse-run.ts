/**
 * Parsers of an app file's run sections: `processes` (what runs in the container), `tests`
 * (commands run against a named process), `resources` (what the container needs) and the release
 * sections `templates` and `branches`. Each reports its own fields through the shared readers.
 */
import type { AppFields } from "./fields";
import type { AppProcess, AppResources, AppTestSpec, LoadOptions } from "./spec";

/** `processes`: what runs in the container. */
export function parseProcesses(c: AppFields, d: Record<string, unknown>): AppProcess[] {
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
export function parseTests(c: AppFields, d: Record<string, unknown>, processes: AppProcess[]): AppTestSpec[] {
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
export function parseResources(c: AppFields, d: Record<string, unknown>): AppResources {
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
export function parseRelease(
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
