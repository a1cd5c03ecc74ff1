/**
 * Test helpers for the libvirt tests: drive a dynamic provider the way the engine does
 * (check first, then create/update with the checked inputs), make throwaway SSH keys, and
 * look at the KVM host (this machine) directly.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import { runLocal } from "../testbed/libvirt/local";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- provider props are untyped JSON
export type Props = Record<string, any>;

/** check + create, failing the test on check failures (like `pulumi up` would). */
export async function checkedCreate(p: pulumi.dynamic.ResourceProvider, news: Props) {
  const checked = await p.check!({}, news);
  if (checked.failures?.length) throw new Error(`check failed: ${JSON.stringify(checked.failures)}`);
  const res = await p.create(checked.inputs);
  return { id: res.id, outs: res.outs as Props, inputs: checked.inputs as Props };
}

/** check + diff + update with the checked inputs. */
export async function checkedUpdate(
  p: pulumi.dynamic.ResourceProvider,
  id: string,
  olds: Props,
  news: Props,
) {
  const checked = await p.check!(olds, news);
  if (checked.failures?.length) throw new Error(`check failed: ${JSON.stringify(checked.failures)}`);
  const diff = await p.diff!(id, olds, checked.inputs);
  const res = await p.update!(id, olds, checked.inputs);
  return { diff, outs: res.outs as Props, inputs: checked.inputs as Props };
}

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

/** A fresh ed25519 key pair in OpenSSH format (ssh-keygen, so the guest's sshd accepts it). */
export async function newKeyPair(comment: string): Promise<KeyPair> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8t-key-"));
  try {
    const f = path.join(dir, "k");
    await runLocal(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", f]);
    return { privateKey: fs.readFileSync(f, "utf8"), publicKey: fs.readFileSync(`${f}.pub`, "utf8").trim() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A short random suffix so parallel or repeated runs never collide on names. */
export function suffix(): string {
  return crypto.randomBytes(3).toString("hex");
}

export async function virshLocal(args: string[]) {
  return runLocal(["virsh", "-c", "qemu:///system", ...args], { check: false });
}

export async function domainExists(nameOrUuid: string): Promise<boolean> {
  return (await virshLocal(["dominfo", nameOrUuid])).code === 0;
}

/**
 * A VM suite's last word: whatever its tests left (a failed destroy, a killed run), the domain
 * `name` is stopped and undefined and its files in `poolDir` removed, so no TCG guest keeps
 * eating the machine's CPU afterwards.
 */
export async function removeTestDomain(name: string, poolDir: string | undefined): Promise<void> {
  await virshLocal(["destroy", name]);
  await virshLocal(["undefine", "--nvram", name]);
  if (!poolDir || !fs.existsSync(poolDir)) return;
  for (const f of fs.readdirSync(poolDir))
    if (f.startsWith(name)) fs.rmSync(path.join(poolDir, f), { force: true });
}
