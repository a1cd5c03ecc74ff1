/**
 * AppBuild: builds one app of the build tree on a build node over SSH, pushes its output files to
 * IPFS and produces the app's core0 plist. Content-addressed:
 *
 *   buildId = sha256(source commit + canonical build definition (steps, outputs))
 *
 * - The source commit is resolved where Pulumi runs, before the provider sees the inputs
 *   (`resolveSourceCommit`: `git ls-remote` for git sources, a content hash for local sources), so
 *   `diff` needs no remote call: same buildId = no change, no SSH, no IPFS (a no-op up builds and
 *   uploads nothing).
 * - create/update: in `<workDir>/<buildId>` on the node: fetch the source at the commit (git clone,
 *   or a local source uploaded as a tar stream), run the steps (`sh -c`, in the checkout, output
 *   appended to `build.log`), then stream each output file (`cat` over SSH) straight into IPFS add
 *   through brotli (core0 v0.9.0 decompresses what it fetches; no temp copy, no buffering), build the
 *   plist with the real sizes/modes/owners/mtimes and CIDs of the compressed bytes, add it
 *   to IPFS (add pins). Each finished phase leaves a marker in `.g8os/`: a build cut off (SSH lost,
 *   step failed) resumes there on the next up, re-running only the unfinished step.
 * - A failed step: the error names the app, the step, the exit status and shows the last 40 log
 *   lines; the full log stays on the node and is copied to a local file (`logDir`).
 * - read: the plist is still pinned in IPFS (else the build is dropped and the next up rebuilds).
 * - delete: removes the build directory on the node (IPFS content stays: released templates may
 *   still reference it). An unreachable node does not block destroy (warning).
 */
import * as pulumi from "@pulumi/pulumi";
import { type CheckFailure, InputError, OperationError, errorMessage, resourceLabel } from "../shared/errors";
import { collectFailures, httpUrl, nonEmptyString } from "../shared/validate";
import { containsUnknown, diffFields, partialCreateError, plainOutputs } from "../shared/dynamic";
import { type SshSession, shellQuote } from "../shared/ssh";
import { execStream } from "../shared/ssh-stream";
import { trace } from "../shared/trace";
import { connectionFailures, type HostConnection, onHost } from "../host/connection";
import { IpfsClient } from "../ipfs/client";
import { coreXRequiredEntries, FILETYPE_FILE, type PlistEntry, serializePlist, storeBrotli } from "../plist";
import type { AppSpec } from "./tree";

/** One output file of a build, as pushed to IPFS. */
export interface BuiltFile {
  /** Path inside the container root. */
  path: string;
  /** IPFS hash of the brotli-compressed content (what core0 v0.9.0 fetches and decompresses). */
  cid: string;
  /** Uncompressed bytes. */
  size: number;
  /** Permission bits (e.g. 0o755 = 493). */
  mode: number;
}

export interface AppBuildInputs {
  /** App name (= spec.name). */
  app: string;
  spec: AppSpec;
  /** How to reach the build node (secret: private keys). */
  buildNode: HostConnection;
  /** IPFS RPC API the outputs are pushed to. */
  ipfsApiUrl: string;
  /** Absolute directory on the build node; each build gets `<workDir>/<buildId>`. */
  workDir: string;
  /** Local directory receiving each build's full log. */
  logDir: string;
  /** Resolved source: git commit (40 hex) or local content hash (64 hex). */
  sourceCommit: string;
  /** Computed by check. */
  buildId: string;
}

export interface AppBuildOutputs extends AppBuildInputs {
  /** Plist text (core0 v0.9 format). "" until the build finished. */
  plist: string;
  /** CID of the plist in IPFS. "" until the build finished. */
  plistCid: string;
  files: BuiltFile[];
  /** Build directory on the node. */
  buildDir: string;
  /** Local copy of the full build log. */
  logFile: string;
}

const KIND = "AppBuild";
const DEFAULT_WORK_DIR = "/root/g8os-builds";
const LOG_TAIL_LINES = 40;
const label = (i: { app?: unknown }): string => resourceLabel(KIND, typeof i.app === "string" ? i.app : "?");

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}

/**
 * The build's identity: the source commit plus what the build does (steps, outputs). Processes,
 * tests, resources, templates and branches are left out: changing them needs no rebuild.
 */
export function computeBuildId(sourceCommit: string, spec: Pick<AppSpec, "steps" | "outputs">): string {
  const crypto = require("crypto") as typeof import("crypto");
  const definition = canonicalJson({ v: 1, sourceCommit, steps: spec.steps, outputs: spec.outputs });
  return crypto.createHash("sha256").update(definition).digest("hex");
}

/**
 * Resolves an app's source to what the build fetches, on the machine running Pulumi:
 * a git ref to its commit (`git ls-remote`; a 40-hex ref is taken as is), a local directory to a
 * sha256 of its files (paths, exec bits, content; `.git` skipped), read as streams.
 */
export async function resolveSourceCommit(spec: AppSpec): Promise<string> {
  const where = resourceLabel(KIND, spec.name);
  if (spec.source.git) {
    const ref = spec.source.ref ?? "master";
    if (/^[0-9a-f]{40}$/.test(ref)) return ref;
    const { execFile } = require("child_process") as typeof import("child_process");
    trace({ system: "git", op: "ls-remote", write: false, target: spec.source.git });
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        "git",
        ["ls-remote", "--", spec.source.git!, ref, `refs/tags/${ref}^{}`],
        { timeout: 60_000, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } },
        (err, stdout, stderr) =>
          err
            ? reject(
                new OperationError(
                  where,
                  `resolving source.git ${spec.source.git} (ref ${ref}) with git ls-remote`,
                  (stderr || errorMessage(err)).trim(),
                  `that source.git in ${spec.file} is the right URL and the repository is reachable from the machine running Pulumi`,
                ),
              )
            : resolve(stdout),
      );
    });
    const refs = out
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("\t") as [string, string]);
    const pick = (name: string) => refs.find(([, r]) => r === name)?.[0];
    const commit =
      pick(`refs/tags/${ref}^{}`) ?? pick(`refs/heads/${ref}`) ?? pick(`refs/tags/${ref}`) ?? pick(ref);
    if (!commit) {
      throw new InputError(
        where,
        "source.ref",
        `"${ref}" is neither a branch nor a tag of ${spec.source.git}`,
        "push it, or set ref to an existing branch, tag or full commit id",
      );
    }
    return commit;
  }
  const fs = require("fs") as typeof import("fs");
  const path = require("path") as typeof import("path");
  const crypto = require("crypto") as typeof import("crypto");
  const root = spec.source.path;
  if (!root || !fs.existsSync(root)) {
    throw new InputError(
      where,
      "source.path",
      `directory ${root} does not exist`,
      "point it at the app's source",
    );
  }
  const hash = crypto.createHash("sha256");
  const walk = async (rel: string): Promise<void> => {
    const names = (await fs.promises.readdir(path.join(root, rel))).filter((n) => n !== ".git").sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await fs.promises.lstat(path.join(root, r));
      if (st.isDirectory()) {
        hash.update(`d ${r}\n`);
        await walk(r);
      } else if (st.isSymbolicLink()) {
        hash.update(`l ${r} ${await fs.promises.readlink(path.join(root, r))}\n`);
      } else if (st.isFile()) {
        hash.update(`f ${r} ${st.mode & 0o111 ? "x" : "-"} ${st.size}\n`);
        for await (const chunk of fs.createReadStream(path.join(root, r))) hash.update(chunk as Buffer);
      }
    }
  };
  await walk("");
  return hash.digest("hex");
}

function normalise(i: Partial<AppBuildInputs>): AppBuildInputs {
  const os = require("os") as typeof import("os");
  const path = require("path") as typeof import("path");
  return {
    app: i.app!,
    spec: i.spec!,
    buildNode: i.buildNode!,
    ipfsApiUrl: i.ipfsApiUrl!,
    workDir: (i.workDir ?? DEFAULT_WORK_DIR).replace(/\/+$/, ""),
    logDir: i.logDir ?? path.join(os.tmpdir(), "g8os-build-logs"),
    sourceCommit: i.sourceCommit!,
    buildId: i.buildId ?? "",
  };
}

function specFailures(spec: unknown, app: unknown): CheckFailure[] {
  if (containsUnknown(spec)) return [];
  const s = spec as Partial<AppSpec> | undefined;
  if (!s || typeof s !== "object")
    return [{ property: "spec", reason: "is required: an app of the build tree" }];
  const out: CheckFailure[] = [];
  if (s.name !== app) out.push({ property: "app", reason: `must equal spec.name ("${s.name}")` });
  if (!s.source || (!s.source.git && !s.source.path))
    out.push({ property: "spec.source", reason: "needs git or path (load the app with loadBuildTree)" });
  if (!Array.isArray(s.steps) || s.steps.length === 0)
    out.push({ property: "spec.steps", reason: "must list at least one build step" });
  else
    s.steps.forEach((st, n) => {
      if (!st || typeof st.run !== "string" || !st.run.trim())
        out.push({ property: `spec.steps[${n}].run`, reason: "must be a shell command" });
    });
  if (!Array.isArray(s.outputs) || s.outputs.length === 0)
    out.push({ property: "spec.outputs", reason: "must list at least one output file" });
  else
    s.outputs.forEach((o, n) => {
      if (
        !o ||
        typeof o.from !== "string" ||
        !o.from ||
        o.from.startsWith("/") ||
        o.from.split("/").includes("..")
      )
        out.push({
          property: `spec.outputs[${n}].from`,
          reason: "must be a path inside the source checkout",
        });
      if (!o || typeof o.to !== "string" || !o.to.startsWith("/"))
        out.push({ property: `spec.outputs[${n}].to`, reason: "must be an absolute path in the container" });
      else if (/[|\r\n]/.test(o.to))
        out.push({
          property: `spec.outputs[${n}].to`,
          reason: "must not contain | or a line break (a core0 v0.9.0 plist line cannot hold them)",
        });
      if (o?.mode !== undefined && !/^[0-7]{3,4}$/.test(o.mode))
        out.push({ property: `spec.outputs[${n}].mode`, reason: 'must be an octal string like "0755"' });
    });
  return out;
}

/** Where a build lives on the node. */
function layout(i: AppBuildInputs) {
  const dir = `${i.workDir}/${i.buildId}`;
  return { dir, src: `${dir}/src`, meta: `${dir}/.g8os`, log: `${dir}/build.log` };
}

/** Copies the node's build log to a local file, streamed. Returns the local path. */
async function copyLog(s: SshSession, i: AppBuildInputs): Promise<string> {
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
async function fetchSource(s: SshSession, i: AppBuildInputs): Promise<void> {
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
async function runSteps(s: SshSession, i: AppBuildInputs): Promise<void> {
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

/** Streams each output file from the node into IPFS; returns plist entries and file records. */
async function pushOutputs(
  s: SshSession,
  i: AppBuildInputs,
): Promise<{ entries: PlistEntry[]; files: BuiltFile[] }> {
  const { src } = layout(i);
  const ipfs = new IpfsClient(i.ipfsApiUrl, { label: label(i) });
  const paths = i.spec.outputs.map((o) => shellQuote(`${src}/${o.from}`)).join(" ");
  // One stat for all outputs: type|size|mode|mtime|ctime|user|group per line, in order. %a
  // includes setuid/setgid/sticky; %U/%G are the owner names (UNKNOWN when the id has none).
  const st = await s.exec(
    `for f in ${paths}; do stat -L -c '%F|%s|%a|%Y|%Z|%U|%G|%u|%g' -- "$f" || echo missing; done`,
    {
      check: false,
      step: "stat the outputs",
    },
  );
  const stats = st.stdout.trim().split("\n");
  const entries: PlistEntry[] = [];
  const files: BuiltFile[] = [];
  for (const [n, o] of i.spec.outputs.entries()) {
    const [type, size, mode, mtime, ctime, user, group, uid, gid] = (stats[n] ?? "missing").split("|");
    if (type !== "regular file" && type !== "regular empty file") {
      throw new OperationError(
        label(i),
        `output ${o.from}`,
        type === "missing" || !size
          ? `${src}/${o.from} does not exist after the build`
          : `${src}/${o.from} is a ${type}, not a file`,
        `spec.outputs[${n}].from, and that the build steps produce it`,
      );
    }
    const cat = await execStream(s, `cat -- ${shellQuote(`${src}/${o.from}`)}`, { step: `read ${o.from}` });
    // core0 v0.9.0 brotli-decompresses what it fetches: store the compressed stream, hash it.
    const added = await storeBrotli(cat.stdout, (c) => ipfs.addStream(c, { cidVersion: 1, rawLeaves: true }));
    await cat.done;
    if (added.size !== Number(size)) {
      throw new OperationError(
        label(i),
        `push ${o.from}`,
        `read ${added.size} bytes but the file has ${size} (it changed while being read?)`,
        "that nothing else writes into the build directory; run up again",
      );
    }
    const bits = parseInt(o.mode ?? mode, 8);
    entries.push({
      path: o.to,
      hash: added.cid,
      size: added.size,
      uname: user && user !== "UNKNOWN" ? user : uid,
      gname: group && group !== "UNKNOWN" ? group : gid,
      mode: bits,
      type: FILETYPE_FILE,
      ctime: Number(ctime),
      mtime: Number(mtime),
      extended: "",
    });
    files.push({ path: o.to, cid: added.cid, size: added.size, mode: bits });
  }
  return { entries, files };
}

/** The whole build, resumable; returns the outputs. */
async function build(i: AppBuildInputs): Promise<AppBuildOutputs> {
  return onHost(i.buildNode, label(i), async (s) => {
    await fetchSource(s, i);
    await runSteps(s, i);
    const logFile = await copyLog(s, i);
    const { entries, files } = await pushOutputs(s, i);
    // coreX exits unless the root has /proc; dated like the newest output so the plist stays stable.
    entries.push(...coreXRequiredEntries(entries, Math.max(0, ...entries.map((e) => e.mtime))));
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const plist = serializePlist(entries);
    const ipfs = new IpfsClient(i.ipfsApiUrl, { label: label(i) });
    const { cid: plistCid } = await ipfs.addBytes(plist, { cidVersion: 1, rawLeaves: true, pin: true });
    return plainOutputs({ ...i, plist, plistCid, files, buildDir: layout(i).dir, logFile });
  });
}

/** What a build cut off half-way records: its inputs, no results (plistCid "" = resume next up). */
const unfinished = (i: AppBuildInputs): Record<string, unknown> => ({
  ...i,
  plist: "",
  plistCid: "",
  files: [],
  buildDir: layout(i).dir,
  logFile: "",
});

export const appBuildProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: Partial<AppBuildInputs>, news: Partial<AppBuildInputs>) {
    const failures = collectFailures([
      { path: "app", value: news.app, check: nonEmptyString },
      { path: "ipfsApiUrl", value: news.ipfsApiUrl, check: httpUrl },
      {
        path: "workDir",
        value: news.workDir,
        optional: true,
        check: (v) =>
          typeof v === "string" && /^\/[^'"\n]*[^/]$/.test(v) && v !== "/"
            ? undefined
            : "must be an absolute directory path (not /)",
      },
      {
        path: "sourceCommit",
        value: news.sourceCommit,
        check: (v) =>
          typeof v === "string" && /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(v)
            ? undefined
            : "must be a git commit id (40 hex) or a local content hash (64 hex): see resolveSourceCommit",
      },
    ]);
    failures.push(...specFailures(news.spec, news.app), ...connectionFailures("buildNode", news.buildNode));
    if (failures.length > 0) return { inputs: news, failures };
    if (containsUnknown(news.sourceCommit) || containsUnknown(news.spec)) return { inputs: news, failures };
    const i = normalise(news);
    return { inputs: { ...i, buildId: computeBuildId(i.sourceCommit, i.spec) }, failures };
  },
  async diff(_id: string, olds: AppBuildOutputs, news: AppBuildInputs) {
    const d = diffFields(
      olds as unknown as Record<string, unknown>,
      news as unknown as Record<string, unknown>,
      {
        // Only buildId and ipfsApiUrl lead to a build; the rest updates the recorded inputs, no remote call.
        updateOn: ["buildId", "ipfsApiUrl", "spec", "buildNode", "workDir", "logDir", "sourceCommit"],
        replaceOn: ["app"],
        deleteBeforeReplace: false,
      },
    );
    // A build cut off half-way (partial create) must resume even with unchanged inputs.
    return { changes: d.changes || !olds.plistCid, replaces: d.replaces, deleteBeforeReplace: false };
  },
  async create(raw: AppBuildInputs) {
    const i = normalise(raw);
    const id = `${i.app}@${i.buildId}`;
    try {
      return { id, outs: await build(i) };
    } catch (err) {
      throw partialCreateError(err, id, unfinished(i));
    }
  },
  async read(id: string, props: AppBuildOutputs) {
    if (!props.plistCid) return { id, props };
    const pinned = await new IpfsClient(props.ipfsApiUrl, { label: label(props) }).pinLs(props.plistCid);
    return pinned ? { id, props } : { id: "", props: {} };
  },
  async update(_id: string, olds: AppBuildOutputs, news: AppBuildInputs) {
    const i = normalise(news);
    if (olds.plistCid && olds.buildId === i.buildId && olds.ipfsApiUrl === i.ipfsApiUrl) {
      // Same build: keep its results, record the new non-build inputs. No remote call.
      return {
        outs: plainOutputs({
          ...i,
          plist: olds.plist,
          plistCid: olds.plistCid,
          files: olds.files,
          buildDir: olds.buildDir,
          logFile: olds.logFile,
        }),
      };
    }
    let outs: AppBuildOutputs;
    try {
      outs = await build(i);
    } catch (err) {
      throw partialCreateError(err, `${i.app}@${i.buildId}`, unfinished(i));
    }
    if (olds.buildId && olds.buildId !== i.buildId) {
      // The superseded build's directory: best effort, a leftover only costs disk.
      await onHost(i.buildNode, label(i), (s) =>
        s.exec(`rm -rf ${shellQuote(`${normalise(olds).workDir}/${olds.buildId}`)}`, {
          write: true,
          check: false,
          step: "remove the previous build directory",
        }),
      ).catch(() => undefined);
    }
    return { outs };
  },
  async delete(_id: string, props: AppBuildOutputs) {
    const i = normalise(props);
    if (!i.buildId) return;
    try {
      await onHost(i.buildNode, label(i), (s) =>
        s.exec(`rm -rf ${shellQuote(layout(i).dir)}`, { write: true, step: "remove the build directory" }),
      );
    } catch (err) {
      console.error(
        `warning: ${label(i)}: build directory ${layout(i).dir} not removed: ${errorMessage(err)}`,
      );
    }
  },
};

export interface AppBuildArgs {
  /** One app of the build tree (`loadBuildTree(dir).apps[n]`). */
  spec: pulumi.Input<AppSpec>;
  /** The build node (e.g. the BuildHost's connection). Stored as a secret. */
  buildNode: pulumi.Input<HostConnection>;
  /** IPFS RPC API the files and the plist are pushed to. */
  ipfsApiUrl: pulumi.Input<string>;
  /** Absolute directory on the node. Default /root/g8os-builds. */
  workDir?: pulumi.Input<string>;
  /** Local directory for full build logs. Default <tmpdir>/g8os-build-logs. */
  logDir?: pulumi.Input<string>;
  /** Resolved source (commit or content hash). Default: `resolveSourceCommit(spec)` at each run. */
  sourceCommit?: pulumi.Input<string>;
}

export class AppBuild extends pulumi.dynamic.Resource {
  declare readonly app: pulumi.Output<string>;
  declare readonly buildId: pulumi.Output<string>;
  declare readonly sourceCommit: pulumi.Output<string>;
  declare readonly plist: pulumi.Output<string>;
  declare readonly plistCid: pulumi.Output<string>;
  declare readonly files: pulumi.Output<BuiltFile[]>;
  declare readonly buildDir: pulumi.Output<string>;
  declare readonly logFile: pulumi.Output<string>;

  constructor(name: string, args: AppBuildArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.spec || !args.buildNode || !args.ipfsApiUrl) {
      throw new InputError(
        resourceLabel(KIND, name),
        !args.spec ? "spec" : !args.buildNode ? "buildNode" : "ipfsApiUrl",
        "is missing",
        "pass the app spec, the build node connection and the IPFS API URL",
      );
    }
    const spec = pulumi.output(args.spec);
    super(
      appBuildProvider,
      name,
      {
        app: spec.name,
        spec,
        buildNode: pulumi.secret(args.buildNode),
        ipfsApiUrl: args.ipfsApiUrl,
        workDir: args.workDir,
        logDir: args.logDir,
        sourceCommit: args.sourceCommit ?? spec.apply(resolveSourceCommit),
        buildId: undefined,
        plist: undefined,
        plistCid: undefined,
        files: undefined,
        buildDir: undefined,
        logFile: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "buildNode"] },
      "build",
      "AppBuild",
    );
  }
}
