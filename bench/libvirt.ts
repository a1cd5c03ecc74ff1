/**
 * libvirt benchmarks against the libvirt testbed (root; the guest image is built on first use).
 * - SSH round trips (connections and commands, counted through G8OS_TRACE_FILE) to create one VM
 *   (overlay volume + seed + domain, started, no address wait), against the baseline of a refresh
 *   (read) of the same three resources.
 * - Wall time to create N VMs concurrently against creating 1 (define + start, no address wait):
 *   how well creates overlap on this machine (reported with its CPU count).
 */
import * as os from "os";
import { domainProvider } from "../providers/libvirt/domain";
import { seedProvider } from "../providers/libvirt/seed";
import { volumeProvider } from "../providers/libvirt/volume";
import { checkedCreate, newKeyPair, suffix, type Props } from "../test/libvirt/helpers";
import { ensureLibvirtTestbed, type LibvirtTestbed } from "../test/testbed/libvirt";
import type { BenchResult } from "./index";
import { requireRoot, timed, tracedInProcess, withScope, type TracedCall } from "./lib/setup";

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

/** SSH connects, commands and writes among traced calls. */
function sshCounts(calls: TracedCall[]): { connects: number; execs: number; writes: number } {
  const ssh = calls.filter((e) => e.system === "ssh");
  return {
    connects: ssh.filter((e) => e.op === "connect").length,
    execs: ssh.filter((e) => e.op === "exec").length,
    writes: ssh.filter((e) => e.write).length,
  };
}

export async function run(): Promise<BenchResult[]> {
  requireRoot("libvirt", "the libvirt testbed");
  const tb = await ensureLibvirtTestbed();
  const key = await newKeyPair("bench");
  const tag = suffix();
  const concurrent = 2;
  return withScope(async (s) => {
    const vms: Vm[] = [];
    s.defer(async () => {
      for (const vm of vms) await deleteVm(vm).catch(() => undefined);
    });
    const results: BenchResult[] = [];
    const first = await timed(() =>
      tracedInProcess(s, "create", () => createVm(tb, `g8t-bench-${tag}-0`, key.publicKey)),
    );
    const oneMs = first.ms;
    vms.push(first.value.value);
    const one = sshCounts(first.value.calls);
    const vm = first.value.value;
    const refresh = sshCounts(
      (
        await tracedInProcess(s, "refresh", async () => {
          await volumeProvider.read!(vm.disk.id, vm.disk.outs);
          await seedProvider.read!(vm.seed.id, vm.seed.outs);
          await domainProvider.read!(vm.dom.id, vm.dom.outs);
        })
      ).calls,
    );
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
    const many = await timed(() =>
      Promise.all(
        Array.from({ length: concurrent }, (_, i) =>
          createVm(tb, `g8t-bench-${tag}-${i + 1}`, key.publicKey),
        ),
      ),
    );
    vms.push(...many.value);
    results.push({
      name: `wall time: ${concurrent} VM creates concurrently vs 1`,
      value: many.ms / 1000,
      unit: "s",
      baseline: oneMs / 1000,
      ratio: many.ms / oneMs,
      note: `define+start, no address wait; ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`,
    });
    return results;
  });
}
