/**
 * libvirt benchmarks against the libvirt testbed (root; the guest image is built on first use).
 * - SSH round trips (connections and commands, counted through G8OS_TRACE_FILE) to create one VM
 *   (overlay volume + seed + domain, started, no address wait), against the baseline of a refresh
 *   (read) of the same three resources.
 * - Wall time to create N VMs concurrently against creating 1 (define + start, no address wait):
 *   how well creates overlap on this machine (reported with its CPU count).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { domainProvider } from "../providers/libvirt/domain";
import { seedProvider } from "../providers/libvirt/seed";
import { volumeProvider } from "../providers/libvirt/volume";
import { checkedCreate, newKeyPair, suffix, type Props } from "../test/libvirt/helpers";
import { ensureLibvirtTestbed, type LibvirtTestbed } from "../test/testbed/libvirt";
import type { BenchResult } from "./index";

interface Vm {
  disk: Props;
  seed: Props;
  dom: Props;
}

async function createVm(tb: LibvirtTestbed, name: string, publicKey: string): Promise<Vm> {
  const disk = await checkedCreate(volumeProvider, {
    ...tb.connection,
    name: `${name}.qcow2`,
    poolDir: tb.poolDir,
    backingFile: tb.image.disk,
  });
  const seed = await checkedCreate(seedProvider, {
    ...tb.connection,
    name: `${name}-seed`,
    poolDir: tb.poolDir,
    userData: `#cloud-config\nusers:\n  - name: bench\n    ssh_authorized_keys: ["${publicKey}"]\n`,
  });
  const dom = await checkedCreate(domainProvider, {
    ...tb.connection,
    name,
    memoryMiB: 256,
    vcpus: 1,
    domainType: "qemu",
    disks: [{ path: disk.id }],
    seedIso: seed.id,
    nics: [{ network: tb.network.name }],
    kernel: tb.image.kernel,
    initrd: tb.image.initrd,
    cmdline: tb.image.cmdline,
    addressSource: "none",
  });
  return { disk, seed, dom };
}

async function deleteVm(vm: Vm): Promise<void> {
  await domainProvider.delete!(vm.dom.id, vm.dom.outs);
  await seedProvider.delete!(vm.seed.id, vm.seed.outs);
  await volumeProvider.delete!(vm.disk.id, vm.disk.outs);
}

/** Runs `fn` with tracing to a fresh file; returns its result and the traced SSH events. */
async function traced<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; connects: number; execs: number; writes: number }> {
  const file = path.join(os.tmpdir(), `g8os-bench-libvirt-${process.pid}-${Date.now()}.jsonl`);
  const before = process.env.G8OS_TRACE_FILE;
  process.env.G8OS_TRACE_FILE = file;
  try {
    const value = await fn();
    const events = fs.existsSync(file)
      ? fs
          .readFileSync(file, "utf8")
          .trim()
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { system: string; op: string; write: boolean })
      : [];
    const ssh = events.filter((e) => e.system === "ssh");
    return {
      value,
      connects: ssh.filter((e) => e.op === "connect").length,
      execs: ssh.filter((e) => e.op === "exec").length,
      writes: ssh.filter((e) => e.write).length,
    };
  } finally {
    if (before === undefined) delete process.env.G8OS_TRACE_FILE;
    else process.env.G8OS_TRACE_FILE = before;
    fs.rmSync(file, { force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  if (process.getuid?.() !== 0)
    return [{ name: "skipped", value: NaN, unit: "", note: "needs root (libvirt testbed)" }];
  const tb = await ensureLibvirtTestbed();
  const key = await newKeyPair("bench");
  const tag = suffix();
  const results: BenchResult[] = [];
  const vms: Vm[] = [];
  const concurrent = 2;
  try {
    const t0 = Date.now();
    const one = await traced(() => createVm(tb, `g8t-bench-${tag}-0`, key.publicKey));
    const oneMs = Date.now() - t0;
    vms.push(one.value);
    const refresh = await traced(async () => {
      await volumeProvider.read!(one.value.disk.id, one.value.disk.outs);
      await seedProvider.read!(one.value.seed.id, one.value.seed.outs);
      await domainProvider.read!(one.value.dom.id, one.value.dom.outs);
    });
    results.push({
      name: "SSH commands per VM create (volume+seed+domain)",
      value: one.execs,
      unit: "commands",
      baseline: refresh.execs,
      ratio: one.execs / refresh.execs,
      note: `baseline: refresh of the same 3 resources; ${one.connects} SSH connections, ${one.writes} writes`,
    });
    results.push({
      name: "SSH connections per VM create",
      value: one.connects,
      unit: "connections",
      note: "one per resource operation",
    });
    const t1 = Date.now();
    const many = await Promise.all(
      Array.from({ length: concurrent }, (_, i) => createVm(tb, `g8t-bench-${tag}-${i + 1}`, key.publicKey)),
    );
    const manyMs = Date.now() - t1;
    vms.push(...many);
    results.push({
      name: `wall time: ${concurrent} VM creates concurrently vs 1`,
      value: manyMs / 1000,
      unit: "s",
      baseline: oneMs / 1000,
      ratio: manyMs / oneMs,
      note: `define+start, no address wait; ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`,
    });
  } finally {
    for (const vm of vms) await deleteVm(vm).catch(() => undefined);
  }
  return results;
}
