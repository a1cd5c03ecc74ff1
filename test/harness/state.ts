/**
 * The harness's state file: what a stack's checkpoint holds between `up`, `refresh` and `destroy`,
 * with secrets encrypted. Written atomically (temp file + rename) after every completed step, so a
 * crash keeps what succeeded. Also the dependency-graph helpers the engine orders deletes with.
 */
import * as fs from "fs";
import * as path from "path";
import { Props, SecretCipher, revealSecrets } from "./secrets";

export interface ResourceOptionsState {
  dependsOn: string[];
  protect: boolean;
  deleteBeforeReplace?: boolean;
  ignoreChanges: string[];
  replaceOnChanges: string[];
  additionalSecretOutputs: string[];
  provider?: string;
  retainOnDelete?: boolean;
}

export interface StateResource {
  urn: string;
  type: string;
  id: string;
  custom: boolean;
  parent?: string;
  /** Secrets ENCRYPTED as stored (`state()`), decrypted in `stateDecrypted()`. */
  inputs: Props;
  outputs: Props;
  dependencies: string[];
  propertyDependencies: Record<string, string[]>;
  options: ResourceOptionsState;
  /** Recorded by a partial-create error: the next `up` calls Update so the provider can finish. */
  pendingCreate?: boolean;
  /** The old half of a create-before-delete replace, deleted at the end of a successful `up`. */
  pendingDelete?: boolean;
  /**
   * Deleted by a delete-before-replace (its own or a dependency's) and not created again yet, like
   * the engine's `PendingReplacement` (pulumi/pulumi pkg/resource/deploy/step.go, DeleteStep): no
   * provider call deletes or reads it again; the next registration creates it (a replace).
   */
  pendingReplacement?: boolean;
}

interface StateFile {
  version: 1;
  project: string;
  stack: string;
  /** Passphrase secrets provider: KDF salt and an encrypted check word, like `encryptionsalt`. */
  secretsProvider: { type: "passphrase"; salt: string; check: string };
  resources: StateResource[];
}

const CHECK_WORD = "g8os-harness";

/** Reads and writes one stack's state file; keeps secrets in wire form in memory. */
export class StateStore {
  private cipher?: SecretCipher;

  constructor(
    readonly file: string,
    private readonly passphrase: string,
    private readonly project: string,
    private readonly stack: string,
  ) {}

  exists(): boolean {
    return fs.existsSync(this.file);
  }

  text(): string {
    return this.exists() ? fs.readFileSync(this.file, "utf8") : "";
  }

  /** Resources exactly as stored (secrets encrypted). */
  raw(): StateResource[] {
    return this.exists() ? this.parse().resources : [];
  }

  /** Resources with secrets decrypted back to wire form `{sig, value}`. */
  load(): StateResource[] {
    if (!this.exists()) return [];
    const f = this.parse();
    const cipher = this.cipherFor(f.secretsProvider.salt);
    let check: string;
    try {
      check = cipher.decrypt(f.secretsProvider.check);
    } catch {
      check = "";
    }
    if (check !== CHECK_WORD) {
      throw new Error(
        `state file ${this.file}: the passphrase does not decrypt its secrets. ` +
          "Fix: pass the passphrase the state was written with (HarnessOptions.passphrase).",
      );
    }
    return f.resources.map((r) => cipher.decryptDeep(r));
  }

  /** Resources with secrets as plaintext values (for assertions). */
  loadRevealed(): StateResource[] {
    return this.load().map((r) => ({
      ...r,
      inputs: revealSecrets(r.inputs),
      outputs: revealSecrets(r.outputs),
    }));
  }

  /** Writes `resources` (wire form) atomically, dependencies before dependents. */
  save(resources: StateResource[]): void {
    const salt = this.exists() ? this.parse().secretsProvider.salt : SecretCipher.newSalt();
    const cipher = this.cipherFor(salt);
    const body: StateFile = {
      version: 1,
      project: this.project,
      stack: this.stack,
      secretsProvider: { type: "passphrase", salt, check: cipher.encrypt(CHECK_WORD) },
      resources: dependencyOrder(resources).map((r) => cipher.encryptDeep(r)),
    };
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(body, null, 2) + "\n", { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  private parse(): StateFile {
    let f: StateFile;
    try {
      f = JSON.parse(fs.readFileSync(this.file, "utf8")) as StateFile;
    } catch (err) {
      throw new Error(
        `state file ${this.file} is not valid JSON (${(err as Error).message}). Fix: delete it.`,
      );
    }
    if (f.version !== 1 || !Array.isArray(f.resources) || !f.secretsProvider?.salt) {
      throw new Error(
        `state file ${this.file} is not a g8os harness state file (version 1). Fix: delete it.`,
      );
    }
    return f;
  }

  private cipherFor(salt: string): SecretCipher {
    if (!this.cipher || this.cipher.salt !== salt) this.cipher = new SecretCipher(this.passphrase, salt);
    return this.cipher;
  }
}

/** Every URN `r` depends on: dependencies, parent, dependsOn, property dependencies. */
export function dependenciesOf(r: StateResource): Set<string> {
  const out = new Set<string>([...r.dependencies, ...r.options.dependsOn]);
  if (r.parent) out.add(r.parent);
  for (const urns of Object.values(r.propertyDependencies)) urns.forEach((u) => out.add(u));
  out.delete(r.urn);
  return out;
}

/** Stable topological order: a resource after everything it depends on (within the list). */
export function dependencyOrder(resources: StateResource[]): StateResource[] {
  const byUrn = new Map<string, StateResource[]>();
  for (const r of resources) byUrn.set(r.urn, [...(byUrn.get(r.urn) ?? []), r]);
  const placed = new Set<StateResource>();
  const visiting = new Set<string>();
  const out: StateResource[] = [];
  const visit = (r: StateResource): void => {
    if (placed.has(r) || visiting.has(r.urn)) return;
    visiting.add(r.urn);
    for (const dep of dependenciesOf(r)) for (const d of byUrn.get(dep) ?? []) visit(d);
    visiting.delete(r.urn);
    placed.add(r);
    out.push(r);
  };
  resources.forEach(visit);
  return out;
}

/** `roots` plus everything in `all` that depends on them, transitively. */
export function withDependents(all: StateResource[], roots: Set<string>): Set<string> {
  const out = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const r of all) {
      if (out.has(r.urn)) continue;
      for (const dep of dependenciesOf(r)) {
        if (out.has(dep)) {
          out.add(r.urn);
          grew = true;
          break;
        }
      }
    }
  }
  return out;
}

/**
 * Deletes `doomed` dependents-first: each resource waits for every doomed resource that depends
 * on it; independent ones run concurrently. A resource whose dependent failed to go is kept
 * (its `deleteOne` never runs), as the engine does.
 */
export async function deleteInReverseOrder(
  doomed: StateResource[],
  deleteOne: (r: StateResource) => Promise<boolean>,
  /** At most this many `deleteOne` calls at once (`--parallel`); default unbounded. */
  parallel = Infinity,
): Promise<void> {
  let active = 0;
  const waiting: (() => void)[] = [];
  const bounded = async (r: StateResource): Promise<boolean> => {
    while (active >= parallel) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await deleteOne(r);
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
  const dependents = new Map<StateResource, StateResource[]>();
  for (const r of doomed) dependents.set(r, []);
  for (const r of doomed) {
    const deps = dependenciesOf(r);
    for (const d of doomed) if (d !== r && deps.has(d.urn)) dependents.get(d)!.push(r);
  }
  const running = new Map<StateResource, Promise<boolean>>();
  const run = (r: StateResource): Promise<boolean> => {
    let p = running.get(r);
    if (!p) {
      p = (async () => {
        const results = await Promise.all(dependents.get(r)!.map(run));
        return results.every(Boolean) ? bounded(r) : false;
      })();
      running.set(r, p);
    }
    return p;
  };
  await Promise.all(doomed.map(run));
}
