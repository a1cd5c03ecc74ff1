/**
 * The build's first phases on the build node, over one SSH session: fetch the source at the
 * resolved commit, run the steps. Each finished phase leaves a marker in `<buildDir>/.g8os/`, so a
 * build cut off (SSH lost, step failed) resumes there on the next up and re-runs only the
 * unfinished step. A failed step names the app, the step and the exit status, shows the last 40
 * log lines, and copies the full log to a local file (`logDir`).
 * Plain module: no Pulumi imports.
 */
import { OperationError } from "../../providers/shared/errors";
import { type SshSession, shellQuote } from "../../providers/shared/ssh";
import { execStream } from "../../providers/shared/ssh-stream";
import { type AppBuildInputs, label, layout } from "./types";

const LOG_TAIL_LINES = 40;

/** Copies the node's build log to a local file, streamed. Returns the local path. */
export async function copyLog(s: SshSession, i: AppBuildInputs): Promise<string> {
  const fs = require("fs") as typeof import("fs");
  const path = require("path") as typeof import("path");
  const { pipeline } = require("stream/promises") as typeof import("stream/promises");
  fs.mkdirSync(i.logDir, { recursive: true });
  const file = path.join(i.logDir, `${i.app}-${i.buildId.slice(0, 12)}.log`);
  const { log } = layout(i);
  const cat = await execStream(s, `cat ${shellQuote(log)} 2>/dev/null || true`, { step: `copy ${log}` });
  await pipeline(cat.stdout, fs.createWriteStream(file));
  await cat.done;
  return file;
}

/** Fetches the source at the commit into `src` unless a previous run finished that. */
export async function fetchSource(s: SshSession, i: AppBuildInputs): Promise<void> {
  const { src, meta } = layout(i);
  const q = { src: shellQuote(src), marker: shellQuote(`${meta}/source.done`) };
  const state = await s.exec(`mkdir -p ${shellQuote(meta)} && if [ -e ${q.marker} ]; then echo fetched; fi`, {
    write: true,
    step: "prepare the build directory",
  });
  if (state.stdout.trim() === "fetched") return;
  if (i.spec.source.git) {
    await s.exec(
      `rm -rf ${q.src} && git clone -q --no-checkout -- ${shellQuote(i.spec.source.git)} ${q.src} && ` +
        `git -C ${q.src} checkout -q --detach ${shellQuote(i.sourceCommit)} && touch ${q.marker}`,
      { write: true, step: `fetch source ${i.spec.source.git} at ${i.sourceCommit}` },
    );
    return;
  }
  // Local source: a tar stream from here into the node, never a temp archive.
  const { spawn } = require("child_process") as typeof import("child_process");
  const { pipeline } = require("stream/promises") as typeof import("stream/promises");
  const localDir = i.spec.source.path!;
  const untar = await execStream(
    s,
    `rm -rf ${q.src} && mkdir -p ${q.src} && tar -C ${q.src} -xf - && touch ${q.marker}`,
    { write: true, step: `upload source ${localDir}` },
  );
  const tar = spawn("tar", ["-C", localDir, "--exclude=./.git", "-cf", "-", "."], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tarErr = "";
  tar.stderr.on("data", (d: Buffer) => (tarErr = (tarErr + d.toString()).slice(-2000)));
  const tarExit = new Promise<number>((r) => tar.once("close", (code) => r(code ?? -1)));
  untar.stdout.resume();
  await pipeline(tar.stdout, untar.stdin);
  if ((await tarExit) !== 0) {
    throw new OperationError(
      label(i),
      `pack source ${localDir}`,
      `tar failed: ${tarErr.trim()}`,
      "that the directory is readable",
    );
  }
  await untar.done;
}

/** Runs the build steps not yet done; a failure names the step and shows the log tail. */
export async function runSteps(s: SshSession, i: AppBuildInputs): Promise<void> {
  const { src, meta, log } = layout(i);
  const steps = i.spec.steps;
  const done = await s.exec(`ls ${shellQuote(meta)}`, { step: "list finished steps" });
  const finished = done.stdout.split("\n").map((l) => l.trim());
  for (const [n, step] of steps.entries()) {
    const marker = `step-${n}.done`;
    if (finished.includes(marker)) continue;
    const title = `build step "${step.name}" (${n + 1}/${steps.length})`;
    const header = `==> [g8os] ${new Date().toISOString()} ${title}: ${step.run}`;
    const command =
      `cd ${shellQuote(src)} && printf '%s\\n' ${shellQuote(header)} >> ${shellQuote(log)} && ` +
      `timeout -k 10 ${step.timeoutSeconds ?? 1800} sh -c ${shellQuote(step.run)} >> ${shellQuote(log)} 2>&1 < /dev/null && ` +
      `touch ${shellQuote(`${meta}/${marker}`)}`;
    let code: number;
    try {
      code = (await s.exec(command, { write: true, check: false, step: title })).code;
    } catch {
      code = -1; // the session died under the command
    }
    if (code === 0) continue;
    if (code === -1) {
      throw new OperationError(
        label(i),
        title,
        `the SSH connection to ${s.target.host} was lost while the step ran`,
        "that the build node is up and sshd runs; the next up resumes this build at this step",
      );
    }
    const tail = await s.exec(`tail -n ${LOG_TAIL_LINES} ${shellQuote(log)}`, {
      check: false,
      step: "read the log",
    });
    const localLog = await copyLog(s, i).catch(() => "(copy failed)");
    const why =
      code === 124 || code === 137 ? `timed out after ${step.timeoutSeconds} s` : `exit status ${code}`;
    throw new OperationError(
      label(i),
      title,
      `${why}; last ${LOG_TAIL_LINES} log lines:\n${tail.stdout.trimEnd()}\n`,
      `the full log, on ${s.target.host} at ${log} and here at ${localLog}`,
    );
  }
}
