/**
 * ZeroTier on a node, over SSH: read the node id, join/leave networks and read their status with
 * `zerotier-cli` (formats in /work/shared/facts/zerotier.md section 3). Used by the BuildHost
 * component and anything else that puts a machine on a ZeroTier network.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value.
 */
import { OperationError } from "../shared/errors";
import { PollTimeoutError, pollUntil } from "../shared/retry";
import type { SshSession } from "../shared/ssh";
import { hexId } from "../shared/validate";

export interface ZerotierNodeInfo {
  /** 10 hex: the member id to authorise. */
  nodeId: string;
  version: string;
  /** ONLINE, OFFLINE or TUNNELED. */
  state: string;
}

/** One network as `zerotier-cli listnetworks -j` reports it. */
export interface JoinedNetwork {
  networkId: string;
  name: string;
  /** OK, ACCESS_DENIED, NOT_FOUND, REQUESTING_CONFIGURATION, PORT_ERROR, ... */
  status: string;
  type: string;
  /** Interface name on the node, e.g. `ztabcdefgh`. */
  portDeviceName: string;
  /** With prefix: `10.147.17.5/24`. */
  assignedAddresses: string[];
  mac: string;
}

const CLI = "zerotier-cli";

/** Parses `200 info <addr> <version> <state>`. */
export function parseInfo(text: string): ZerotierNodeInfo | undefined {
  const m = /^200 info ([0-9a-f]{10}) (\S+) (\S+)\s*$/m.exec(text);
  return m ? { nodeId: m[1], version: m[2], state: m[3] } : undefined;
}

/** Parses `zerotier-cli listnetworks -j` (a JSON array). */
export function parseListNetworksJson(text: string): JoinedNetwork[] {
  const arr = JSON.parse(text) as Record<string, unknown>[];
  if (!Array.isArray(arr)) throw new Error("listnetworks -j did not print a JSON array");
  return arr.map((n) => ({
    networkId: String(n.nwid ?? n.id ?? ""),
    name: String(n.name ?? ""),
    status: String(n.status ?? ""),
    type: String(n.type ?? ""),
    portDeviceName: String(n.portDeviceName ?? ""),
    assignedAddresses: Array.isArray(n.assignedAddresses) ? n.assignedAddresses.map(String) : [],
    mac: String(n.mac ?? ""),
  }));
}

/**
 * The interface name zerotier-one gives a network on Linux: "zt" + 8 base32 characters of
 * (nwid ^ nwid >> 24), as LinuxEthernetTap derives it. Lets firewall rules name the interface
 * before the node has joined.
 */
export function zerotierInterfaceName(networkId: string): string {
  const B32 = "abcdefghijklmnopqrstuvwxyz234567";
  const n = BigInt("0x" + networkId);
  const n40 = (n ^ (n >> BigInt(24))) & BigInt("0xffffffffff");
  let s = "zt";
  for (let shift = 35; shift >= 0; shift -= 5) s += B32[Number((n40 >> BigInt(shift)) & BigInt(31))];
  return s;
}

function host(s: SshSession): string {
  return `ZeroTier on ${s.target.host}`;
}

function checkNetworkId(s: SshSession, networkId: string): void {
  if (hexId(16)(networkId)) {
    throw new OperationError(
      host(s),
      "zerotier-cli",
      `network id "${networkId}" is not 16 lowercase hex characters`,
    );
  }
}

/** `zerotier-cli info`: the node id and whether it is online. Fails when zerotier-one is not running. */
export async function zerotierNodeInfo(s: SshSession): Promise<ZerotierNodeInfo> {
  const r = await s.exec(`${CLI} info`, {
    step: "zerotier-cli info (is zerotier-one installed and running?)",
  });
  const info = parseInfo(r.stdout);
  if (!info) {
    throw new OperationError(
      host(s),
      "zerotier-cli info",
      `unexpected output: ${r.stdout.trim().slice(0, 200)}`,
    );
  }
  return info;
}

/** `zerotier-cli join <nwid>`. Idempotent: joining a joined network is fine. */
export async function zerotierJoin(s: SshSession, networkId: string): Promise<void> {
  checkNetworkId(s, networkId);
  const r = await s.exec(`${CLI} join ${networkId}`, { write: true, step: `zerotier-cli join ${networkId}` });
  if (!/^200 join OK/m.test(r.stdout)) {
    throw new OperationError(
      host(s),
      `join ${networkId}`,
      `unexpected output: ${r.stdout.trim().slice(0, 200)}`,
    );
  }
}

/** `zerotier-cli leave <nwid>`. */
export async function zerotierLeave(s: SshSession, networkId: string): Promise<void> {
  checkNetworkId(s, networkId);
  await s.exec(`${CLI} leave ${networkId}`, { write: true, step: `zerotier-cli leave ${networkId}` });
}

/** `zerotier-cli listnetworks -j`. */
export async function zerotierListNetworks(s: SshSession): Promise<JoinedNetwork[]> {
  const r = await s.exec(`${CLI} listnetworks -j`, { step: "zerotier-cli listnetworks -j" });
  try {
    return parseListNetworksJson(r.stdout);
  } catch (err) {
    throw new OperationError(host(s), "zerotier-cli listnetworks -j", (err as Error).message);
  }
}

/** The network's entry, or undefined when the node has not joined it. */
export async function zerotierNetworkStatus(
  s: SshSession,
  networkId: string,
): Promise<JoinedNetwork | undefined> {
  return (await zerotierListNetworks(s)).find((n) => n.networkId === networkId);
}

export interface WaitForAddressOptions {
  /** Give up after this long. Default 120 s (seconds to a minute or more in the field). */
  timeoutMs?: number;
  /** Default 2 s. */
  intervalMs?: number;
}

/**
 * Waits until the node reports status OK with an IPv4 address on the network; returns the address
 * (without prefix) and the interface. The timeout message says what the node last reported.
 */
export async function waitForZerotierAddress(
  s: SshSession,
  networkId: string,
  opts: WaitForAddressOptions = {},
): Promise<{ address: string; cidr: string; device: string }> {
  try {
    return await pollUntil<{ address: string; cidr: string; device: string }>(
      async () => {
        const n = await zerotierNetworkStatus(s, networkId);
        if (!n) return { pending: "not joined" };
        const v4 = n.assignedAddresses.find((a) => /^\d+\.\d+\.\d+\.\d+\//.test(a));
        if (n.status === "OK" && v4) return { address: v4.split("/")[0], cidr: v4, device: n.portDeviceName };
        return { pending: `status ${n.status}, addresses ${n.assignedAddresses.join(",") || "none"}` };
      },
      {
        timeoutMs: opts.timeoutMs ?? 120_000,
        intervalMs: opts.intervalMs ?? 2000,
        what: `a ZeroTier IP on ${networkId}`,
      },
    );
  } catch (err) {
    if (!(err instanceof PollTimeoutError)) throw err;
    // Built from fields: a serialised Error subclass carries no message (see common.ts realError).
    const seen = err.lastObservation ? ` (last seen: ${err.lastObservation})` : "";
    throw new OperationError(
      host(s),
      `wait for an address on ZeroTier network ${networkId}`,
      `no address after ${Math.round(err.timeoutMs / 1000)} s${seen}`,
      "that the member is authorised on the network (ACCESS_DENIED = not yet), that the network has an IP " +
        "pool inside a route with auto-assign on (or a fixed ipAssignment), and that the node reaches its controller",
    );
  }
}
