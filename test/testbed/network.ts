/**
 * The testbed's network: two bridges in the root namespace, one namespace + veth per host, and an
 * iptables chain that keeps testbed traffic on its own bridges (nothing is routed or NATed out).
 * Every function is idempotent: it checks what exists and only adds what is missing.
 */
import * as fs from "fs";
import { ISOLATION_CHAIN, PUBLIC_BRIDGE, ZT_BRIDGE, HOST_NAME_PREFIX } from "./types";
import { run } from "./proc";

const HOST_NAME_RE = new RegExp(`^${HOST_NAME_PREFIX}\\d+$`);

/** Root-side end of host `name`'s veth (the host side is `eth0` inside the namespace). */
export function vethName(host: string): string {
  return `${host}-veth`;
}

export async function linkExists(name: string): Promise<boolean> {
  return (await run("ip", ["link", "show", "dev", name], { check: false })).code === 0;
}

/** Testbed links in the root namespace (bridges and host veths), for cleanup and checks. */
export async function testbedLinks(): Promise<string[]> {
  const out = (await run("ip", ["-o", "link", "show"])).stdout;
  const names: string[] = [];
  for (const line of out.split("\n")) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m && m[1].startsWith("g8t-")) names.push(m[1]);
  }
  return names;
}

/** Testbed host namespaces that exist (`ip netns list`), in host order. */
export async function testbedNamespaces(): Promise<string[]> {
  const out = (await run("ip", ["netns", "list"])).stdout;
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => HOST_NAME_RE.test(n ?? ""))
    .sort((a, b) => Number(a.slice(HOST_NAME_PREFIX.length)) - Number(b.slice(HOST_NAME_PREFIX.length)));
}

export async function namespaceExists(name: string): Promise<boolean> {
  return fs.existsSync(`/run/netns/${name}`);
}

/**
 * A fixed, locally administered MAC derived from an IPv4 address (02:00:<4 address bytes>). A host or
 * bridge re-created by a later `up` keeps its MAC, so no neighbour cache (root's or another host's)
 * holds a stale entry; a bridge would otherwise take the lowest MAC of its ports and change with them.
 */
export function macFor(ipv4: string): string {
  return ["02", "00", ...ipv4.split(".").map((b) => Number(b).toString(16).padStart(2, "0"))].join(":");
}

async function ensureBridge(name: string, address: string): Promise<void> {
  if (!(await linkExists(name))) {
    await run("ip", ["link", "add", "name", name, "type", "bridge"], { step: `create bridge ${name}` });
  }
  await run("ip", ["link", "set", "dev", name, "address", macFor(address)], { step: `set MAC of ${name}` });
  const addressCidr = `${address}/24`;
  await run("ip", ["addr", "replace", addressCidr, "dev", name], { step: `address bridge ${name}` });
  await run("ip", ["link", "set", "dev", name, "up"], { step: `bring up bridge ${name}` });
}

export async function ensureBridges(): Promise<void> {
  await ensureBridge(PUBLIC_BRIDGE.name, PUBLIC_BRIDGE.gateway);
  await ensureBridge(ZT_BRIDGE.name, ZT_BRIDGE.rootAddress);
}

/**
 * Rules, in order, of the isolation chain. Frames between ports of one bridge pass (br_netfilter
 * shows them to FORWARD as in=out=bridge); anything routed into or out of a testbed bridge is dropped,
 * so a host's default route via 10.213.0.1 reaches the root namespace and nothing beyond it, even
 * when something else (libvirt) turns on ip_forward.
 */
function isolationRules(): string[][] {
  const rules: string[][] = [];
  for (const br of [PUBLIC_BRIDGE.name, ZT_BRIDGE.name]) rules.push(["-i", br, "-o", br, "-j", "ACCEPT"]);
  for (const br of [PUBLIC_BRIDGE.name, ZT_BRIDGE.name]) {
    rules.push(["-i", br, "-j", "DROP"], ["-o", br, "-j", "DROP"]);
  }
  return rules;
}

export async function ensureIsolation(): Promise<void> {
  const chainExists = (await run("iptables", ["-S", ISOLATION_CHAIN], { check: false })).code === 0;
  if (!chainExists) {
    await run("iptables", ["-N", ISOLATION_CHAIN], { step: `create iptables chain ${ISOLATION_CHAIN}` });
  }
  // Rewrite the chain's content every time: cheap, and repairs a chain someone edited by hand.
  await run("iptables", ["-F", ISOLATION_CHAIN], { step: `flush iptables chain ${ISOLATION_CHAIN}` });
  for (const r of isolationRules()) {
    await run("iptables", ["-A", ISOLATION_CHAIN, ...r], { step: `fill iptables chain ${ISOLATION_CHAIN}` });
  }
  const jump = ["FORWARD", "-j", ISOLATION_CHAIN];
  if ((await run("iptables", ["-C", ...jump], { check: false })).code !== 0) {
    await run("iptables", ["-I", "FORWARD", "1", "-j", ISOLATION_CHAIN], {
      step: "jump to the isolation chain",
    });
  }
}

export async function removeIsolation(): Promise<void> {
  // Bounded: one jump per `up` at most, but a crashed run could have left a few.
  for (let i = 0; i < 20; i++) {
    if ((await run("iptables", ["-D", "FORWARD", "-j", ISOLATION_CHAIN], { check: false })).code !== 0) break;
  }
  if ((await run("iptables", ["-S", ISOLATION_CHAIN], { check: false })).code === 0) {
    await run("iptables", ["-F", ISOLATION_CHAIN], { step: `flush iptables chain ${ISOLATION_CHAIN}` });
    await run("iptables", ["-X", ISOLATION_CHAIN], { step: `delete iptables chain ${ISOLATION_CHAIN}` });
  }
}

/** Namespace, loopback, veth to the public bridge, address and default route of one host. */
export async function ensureHostNetwork(host: string, address: string): Promise<void> {
  if (!(await namespaceExists(host))) {
    await run("ip", ["netns", "add", host], { step: `create namespace ${host}` });
  }
  await run("ip", ["-n", host, "link", "set", "dev", "lo", "up"], { step: `bring up lo in ${host}` });
  const veth = vethName(host);
  const hostSide = await run("ip", ["-n", host, "link", "show", "dev", "eth0"], { check: false });
  if (hostSide.code !== 0) {
    // A root-side end without its peer is left from a crashed run: remove it so the pair can be made.
    if (await linkExists(veth))
      await run("ip", ["link", "del", "dev", veth], { step: `remove stale ${veth}` });
    const peer = ["name", "eth0", "address", macFor(address), "netns", host];
    await run("ip", ["link", "add", veth, "type", "veth", "peer", ...peer], {
      step: `create veth ${veth} for ${host}`,
    });
  }
  await run("ip", ["link", "set", "dev", veth, "master", PUBLIC_BRIDGE.name, "up"], {
    step: `attach ${veth} to ${PUBLIC_BRIDGE.name}`,
  });
  await run("ip", ["-n", host, "addr", "replace", `${address}/24`, "dev", "eth0"], {
    step: `address eth0 in ${host}`,
  });
  await run("ip", ["-n", host, "link", "set", "dev", "eth0", "up"], { step: `bring up eth0 in ${host}` });
  await run("ip", ["-n", host, "route", "replace", "default", "via", PUBLIC_BRIDGE.gateway], {
    step: `default route in ${host}`,
  });
}

/** Deletes a host's namespace (its processes must be gone first) and its veth. */
export async function removeHostNetwork(host: string): Promise<void> {
  if (await namespaceExists(host)) {
    await run("ip", ["netns", "del", host], { step: `delete namespace ${host}` });
  }
  // The veth pair dies with the namespace's last reference; this catches a root-side orphan.
  const veth = vethName(host);
  if (await linkExists(veth)) await run("ip", ["link", "del", "dev", veth], { check: false });
}

export async function removeBridges(): Promise<void> {
  for (const br of [PUBLIC_BRIDGE.name, ZT_BRIDGE.name]) {
    if (await linkExists(br)) await run("ip", ["link", "del", "dev", br], { step: `delete bridge ${br}` });
  }
}

/** Live pids inside a namespace (`ip netns pids`). */
export async function namespacePids(host: string): Promise<number[]> {
  if (!(await namespaceExists(host))) return [];
  const r = await run("ip", ["netns", "pids", host], { check: false });
  return r.stdout
    .split(/\s+/)
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 0);
}

/** True when /run/netns is a mount point (ip makes it one the first time a namespace is added). */
export function runNetnsIsMount(): boolean {
  try {
    const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8");
    return mounts.split("\n").some((l) => l.split(" ")[4] === "/run/netns");
  } catch {
    return false;
  }
}
