/**
 * The whole build of one app, Pulumi-free (AppBuild's provider calls it; scripts and benchmarks
 * may too): in `<workDir>/<buildId>` on the build node, fetch the source and run the steps
 * (steps.ts), copy the log here, then stream each output file (`cat` over SSH) straight into IPFS
 * add through brotli (core0 v0.9.0 decompresses what it fetches; no temp copy, no buffering), build
 * the plist with the real sizes/modes/owners/mtimes and the CIDs of the compressed bytes, and add it
 * to IPFS (pinned).
 */
import { OperationError } from "../../providers/shared/errors";
import { plainOutputs } from "../../providers/shared/dynamic";
import { type SshSession, shellQuote } from "../../providers/shared/ssh";
import { execStream } from "../../providers/shared/ssh-stream";
import { onHost } from "../../providers/host/connection";
import { IpfsClient } from "../../providers/ipfs/client";
import {
  coreXRequiredEntries,
  FILETYPE_FILE,
  type PlistEntry,
  serializePlist,
  storeBrotli,
} from "../../providers/plist";
import { copyLog, fetchSource, runSteps } from "./steps";
import { type AppBuildInputs, type AppBuildOutputs, type BuiltFile, label, layout } from "./types";

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
export async function build(i: AppBuildInputs): Promise<AppBuildOutputs> {
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
export const unfinished = (i: AppBuildInputs): Record<string, unknown> => ({
  ...i,
  plist: "",
  plistCid: "",
  files: [],
  buildDir: layout(i).dir,
  logFile: "",
});
