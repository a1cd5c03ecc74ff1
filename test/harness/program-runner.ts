/**
 * Parent side of program-host.ts: forks the child (Node 22 + the cached transpile hook test/ts-register.js), hands it
 * the stack settings and config, and routes its resource registrations to the harness engine.
 */
import { fork } from "child_process";
import * as path from "path";
import type { Props } from "./secrets";
import { TS_REGISTER } from "../ts-register-path";

/** A RegisterResourceRequest as the engine sees it (object in wire form, secrets tagged). */
export interface Registration {
  type: string;
  name: string;
  custom: boolean;
  parent?: string;
  object: Props;
  protect: boolean;
  dependencies: string[];
  propertyDependencies: Record<string, string[]>;
  /** Only set when the program set the option. */
  deleteBeforeReplace?: boolean;
  ignoreChanges: string[];
  replaceOnChanges: string[];
  additionalSecretOutputs: string[];
  provider?: string;
  importId?: string;
  retainOnDelete?: boolean;
}

export interface InitMessage {
  t: "init";
  program: string;
  project: string;
  stack: string;
  preview: boolean;
  config: Record<string, string>;
  secretKeys: string[];
}

export type ChildMessage =
  | { t: "register"; id: number; reg: Registration }
  | { t: "outputs"; id: number; urn: string; outputs: Props }
  | { t: "done"; errors: string[] };

export type ParentMessage =
  | { t: "registered"; id: number; urn: string; resourceId: string; object: Props }
  | { t: "failed"; id: number; error: string }
  | { t: "ack"; id: number };

export interface ProgramHandlers {
  register(reg: Registration): Promise<{ urn: string; id: string; object: Props }>;
  registerOutputs(urn: string, outputs: Props): void;
  output(text: string): void;
}

export interface RunProgramOptions {
  repoRoot: string;
  nodePath: string;
  init: Omit<InitMessage, "t">;
  env: Record<string, string>;
  timeoutMs: number;
}

/** Runs the program to completion; resolves with the program's own errors (uncaught, rejected). */
export function runProgram(o: RunProgramOptions, h: ProgramHandlers): Promise<string[]> {
  const child = fork(path.join(__dirname, "program-host.ts"), [], {
    cwd: o.repoRoot,
    execPath: o.nodePath,
    execArgv: ["-r", TS_REGISTER],
    env: { ...process.env, ...o.env, TS_NODE_PROJECT: path.join(o.repoRoot, "tsconfig.json") },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  child.stdout!.setEncoding("utf8").on("data", h.output);
  child.stderr!.setEncoding("utf8").on("data", h.output);
  const reply = (m: ParentMessage): void => {
    if (child.connected) child.send(m);
  };
  return new Promise((resolve, reject) => {
    let done: string[] | undefined;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the program ${o.init.program} did not finish within ${o.timeoutMs / 1000} s`));
    }, o.timeoutMs);
    child.on("message", (m: ChildMessage) => {
      if (m.t === "register") {
        h.register(m.reg).then(
          (r) => reply({ t: "registered", id: m.id, urn: r.urn, resourceId: r.id, object: r.object }),
          (err: Error) => reply({ t: "failed", id: m.id, error: err.message }),
        );
      } else if (m.t === "outputs") {
        h.registerOutputs(m.urn, m.outputs);
        reply({ t: "ack", id: m.id });
      } else if (m.t === "done") {
        done = m.errors;
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (done) return resolve(done);
      resolve([
        `the program process exited with ${signal ?? `status ${code}`} before finishing (see the log)`,
      ]);
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.send({ t: "init", ...o.init } satisfies InitMessage);
  });
}
