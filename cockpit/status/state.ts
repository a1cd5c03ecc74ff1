/**
 * The stack outputs from the state file, read without running Pulumi: the DIY (file) backend
 * keeps each stack's checkpoint at `<backend>/.pulumi/stacks/<project>/<stack>.json`
 * (pulumi/pulumi pkg/backend/diy/backend.go `stackPath`; `.json.gz` when gzip is on), a
 * `CheckpointV3` (sdk/go/common/apitype/core.go): `checkpoint.latest` is a `DeploymentV3` with
 * `manifest.time` and `resources`; the stack's outputs are the `pulumi:pulumi:Stack` resource's
 * `outputs`. Secret values (`{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ...}`,
 * sdk/go/common/resource/sig) stay encrypted and are dropped here.
 */
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** What the state says. */
export interface StackState {
  /** The stack's outputs, secrets removed. */
  outputs: Record<string, unknown>;
  /** When the state was last written (`manifest.time`), or null. */
  time: string | null;
}

function dropSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropSecrets);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (SECRET_SIG in o) return undefined;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) {
      const y = dropSecrets(x);
      if (y !== undefined) out[k] = y;
    }
    return out;
  }
  return v;
}

/** The project name of `Pulumi.yaml` in `projectDir`. */
export function projectName(projectDir: string): string {
  const yaml = require("js-yaml");
  const doc = yaml.load(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as { name?: unknown };
  return String(doc?.name ?? "");
}

/** Reads the state of `stack`; undefined when the backend is not a file backend or has no state for it. */
export function readStackState(backendUrl: string, project: string, stack: string): StackState | undefined {
  if (!backendUrl.startsWith("file://")) return undefined;
  const root = backendUrl.slice("file://".length) || (process.env.HOME ?? "");
  const base = path.join(root, ".pulumi", "stacks", project, `${stack}.json`);
  let text: string;
  if (fs.existsSync(base)) text = fs.readFileSync(base, "utf8");
  else if (fs.existsSync(`${base}.gz`))
    text = zlib.gunzipSync(fs.readFileSync(`${base}.gz`)).toString("utf8");
  else return undefined;
  const doc = JSON.parse(text) as {
    checkpoint?: { latest?: { manifest?: { time?: unknown }; resources?: Array<Record<string, unknown>> } };
  };
  const latest = doc.checkpoint?.latest;
  const root0 = (latest?.resources ?? []).find((r) => r.type === "pulumi:pulumi:Stack");
  return {
    outputs: (dropSecrets(root0?.outputs ?? {}) ?? {}) as Record<string, unknown>,
    time: typeof latest?.manifest?.time === "string" ? latest.manifest.time : null,
  };
}
