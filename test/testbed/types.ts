/**
 * The testbed's shapes and its fixed network layout (documented in test/testbed/README.md).
 * Types only plus constants: every other testbed module imports from here, so no import cycles.
 */

/** The "public internet" segment every test host is attached to. */
export const PUBLIC_BRIDGE = { name: "g8t-br0", cidr: "10.213.0.0/24", gateway: "10.213.0.1" } as const;

/** Reserved for the ZeroTier stand-in: hosts' `zt...` interfaces are attached here by its node agent. */
export const ZT_BRIDGE = { name: "g8t-zt0", cidr: "10.214.0.0/24", rootAddress: "10.214.0.254" } as const;

/** Host i (1-based) is `g8t-h<i>` at 10.213.0.(10+i); the cap keeps addresses inside the /24. */
export const HOST_NAME_PREFIX = "g8t-h";
export const MAX_HOSTS = 40;
export const DEFAULT_HOSTS = 4;

/** Root-namespace iptables chain (jumped to from FORWARD) that keeps testbed traffic on its bridges. */
export const ISOLATION_CHAIN = "G8T-FORWARD";

export interface TestHost {
  name: string;
  netns: string;
  address: string;
  sshPort: number;
  /** The host's ED25519 host key, "SHA256:..." like `ssh-keygen -lf` prints it. */
  hostKeySha256: string;
  /** Per-host state dir (its /root, /etc/ufw, /var/lib/zerotier-one live under it). */
  dir: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface HostExecOptions {
  /** Text fed to the command's stdin. */
  stdin?: string;
  /** Kill the command after this long. Default 120 s. */
  timeoutMs?: number;
}

export interface Testbed {
  hosts: TestHost[];
  /** Stands for the credential a user has for the physical KVM host before g8os takes over. */
  bootstrapKey: { privateKey: string; publicKey: string };
  publicBridge: typeof PUBLIC_BRIDGE;
  ztBridge: typeof ZT_BRIDGE;
  stateDir: string;
  /** Runs a command inside a host's network+mount namespace (as its sshd sessions see the world). */
  exec(host: string, command: string, opts?: HostExecOptions): Promise<ExecResult>;
  /** The host called `name`, or an error naming the hosts that exist. */
  host(name: string): TestHost;
}

export interface ServiceStatus {
  up: boolean;
  /** One line for `npm run testbed -- status`: address, pid, why it is down. */
  detail?: string;
}

/**
 * A service the testbed runs beside the hosts (redis, core0 emulator, js-ipfs, ZeroTier stand-in).
 * Register it in test/testbed/services.ts. Every method must be idempotent: `up` when already up
 * and `down` when already down (or half up) are normal.
 */
export interface TestbedService {
  name: string;
  up(tb: Testbed): Promise<void>;
  down(tb: Testbed): Promise<void>;
  status(tb: Testbed): Promise<ServiceStatus>;
}
