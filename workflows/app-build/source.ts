/**
 * The build's identity, computed where Pulumi runs (before the provider sees the inputs):
 *
 *   buildId = sha256(source commit + canonical build definition (steps, outputs))
 *
 * so `diff` needs no remote call: the same buildId means no change, no SSH, no IPFS.
 * Plain module: no Pulumi imports.
 */
import { errorMessage, InputError, OperationError, resourceLabel } from "../../providers/shared/errors";
import { trace } from "../../providers/shared/trace";
import type { AppSpec } from "../app-tree";
import { KIND } from "./types";

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
