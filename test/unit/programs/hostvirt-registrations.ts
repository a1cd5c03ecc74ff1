/**
 * Registers the host and libvirt resources (and a VM's ZeroTier identity) under
 * `pulumi.runtime.setMocks`, each with a caller's `additionalSecretOutputs: ["callerField"]`, and
 * prints what reached the resource monitor: type, name, additionalSecretOutputs, aliases.
 * Run in a child process by test/unit/hostvirt.test.ts (mocks are process-wide).
 */
import * as pulumi from "@pulumi/pulumi";

type Reg = { type: string; name: string; secretOutputs: string[]; aliases: unknown[] };
const regs: Reg[] = [];

async function main(): Promise<void> {
  pulumi.runtime.setMocks(
    {
      newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }),
      call: (a) => a.inputs,
    },
    "g8os",
    "build-1",
    false,
  );
  // The mock monitor drops resource options: look at the raw request before it does.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  monitor.registerResource = (req: any, cb: any) => {
    regs.push({
      type: req.getType(),
      name: req.getName(),
      secretOutputs: req.getAdditionalsecretoutputsList(),
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      aliases: req.getAliasesList().map((a: any) => a.toObject()),
    });
    return register(req, cb);
  };

  const { AuthorizedKeys, ZerotierOnlySsh, ZerotierIdentity } = await import("../../../providers/host");
  const { ZerotierHostJoin } = await import("../../../providers/zerotier");
  const { CloudInitSeed, LibvirtDomain, LibvirtVolume, KvmHostSetup } =
    await import("../../../providers/libvirt");
  const { zerotierIdentity } = await import("../../../components/vm/common");
  const opts = { additionalSecretOutputs: ["callerField"] };
  const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n";
  const pin = "SHA256:" + "A".repeat(43);
  const hc = { addresses: [{ host: "127.0.0.1" }], privateKeys: [key] };
  const flat = { host: "127.0.0.1", privateKey: key, hostKeySha256: pin };
  new AuthorizedKeys("keys", { connection: hc, block: "build-1", keys: ["ssh-ed25519 AAAA a"] }, opts);
  new ZerotierHostJoin("join", { connection: hc, networkId: "0123456789abcdef" }, opts);
  new ZerotierOnlySsh(
    "fw",
    { connection: hc, zerotierAddress: "10.0.0.1", interfaceName: "ztabcdefgh" },
    opts,
  );
  new ZerotierIdentity("ident", { connection: flat }, opts);
  new CloudInitSeed("seed", { ...flat, name: "s", poolDir: "/p", userData: "#cloud-config\n" }, opts);
  new LibvirtDomain("dom", { ...flat, name: "d", memoryMiB: 512, vcpus: 1 }, opts);
  new LibvirtVolume("vol", { ...flat, name: "v", poolDir: "/p", backingFile: "/p/b" }, opts);
  new KvmHostSetup("setup", { ...flat, name: "h", poolDir: "/p" }, opts);
  zerotierIdentity(
    "build-1-node-zerotier-identity",
    { connection: flat, poolDir: "/p", networkName: "n", domainType: "auto" },
    {},
  );
  // Let the registrations (and provider serialization) finish.
  await new Promise((r) => setTimeout(r, 3000));
  process.stdout.write(JSON.stringify(regs) + "\n");
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err) + "\n");
  process.exit(1);
});
