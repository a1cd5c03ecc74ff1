/**
 * Bad inputs a KVM host reveals only when asked: NICs on networks or bridges it does not have,
 * image URLs it cannot fetch, names another environment already uses. Pure functions that turn
 * what the host said into errors naming the field, the value and the fix (the client gathers the
 * facts, the providers throw).
 *
 * Plain module (inlined by value into the serialized providers): imports only providers/shared.
 */
import { InputError } from "../shared/errors";

/** What the KVM host offers to NICs, from one round trip (`LibvirtClient.hostNetworks`). */
export interface HostNetworks {
  /** Every libvirt network (`virsh net-list --all --name`). */
  networks: string[];
  /** The active ones (`virsh net-list --name`). */
  activeNetworks: string[];
  /** Every network interface of the host (/sys/class/net), bridges included. */
  interfaces: string[];
  /** The interfaces that are Linux bridges (what `<interface type='bridge'>` needs). */
  bridges: string[];
}

/** Section markers of the `hostNetworks` script's output. */
export const HOST_NETWORK_MARKS = { all: "@g8os-all", active: "@g8os-active", ifaces: "@g8os-ifaces" };

/**
 * Parses the output of the `hostNetworks` script: the two net-list outputs after their markers,
 * then `bridge <name>` / `iface <name>` lines.
 */
export function parseHostNetworks(stdout: string): HostNetworks {
  const out: HostNetworks = { networks: [], activeNetworks: [], interfaces: [], bridges: [] };
  let section = "";
  for (const raw of stdout.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    if (
      line === HOST_NETWORK_MARKS.all ||
      line === HOST_NETWORK_MARKS.active ||
      line === HOST_NETWORK_MARKS.ifaces
    ) {
      section = line;
      continue;
    }
    if (section === HOST_NETWORK_MARKS.all) out.networks.push(line);
    else if (section === HOST_NETWORK_MARKS.active) out.activeNetworks.push(line);
    else if (section === HOST_NETWORK_MARKS.ifaces) {
      const [kind, name] = line.split(/\s+/);
      if (!name) continue;
      out.interfaces.push(name);
      if (kind === "bridge") out.bridges.push(name);
    }
  }
  return out;
}

/** One NIC the host cannot serve: the input path, what is wrong, what to do. */
export interface NicProblem {
  field: string;
  problem: string;
  fix: string;
}

const listOrNone = (names: string[]) => (names.length ? names.join(", ") : "none");

/** The NICs (`{ network | bridge }`, in order) that would make `virsh start` fail on this host. */
export function nicProblems(
  nics: ReadonlyArray<{ network?: string; bridge?: string }>,
  host: HostNetworks,
  hostName: string,
): NicProblem[] {
  const problems: NicProblem[] = [];
  nics.forEach((n, i) => {
    if (n.network !== undefined) {
      if (!host.networks.includes(n.network))
        problems.push({
          field: `nics[${i}].network`,
          problem: `libvirt network "${n.network}" does not exist on ${hostName} (networks there: ${listOrNone(host.networks)})`,
          fix: "use one of those networks, or create it first (KvmHost creates the build network; by hand: virsh net-define + net-start)",
        });
      else if (!host.activeNetworks.includes(n.network))
        problems.push({
          field: `nics[${i}].network`,
          problem: `libvirt network "${n.network}" exists on ${hostName} but is not active`,
          fix: `start it on the KVM host: virsh -c qemu:///system net-start ${n.network} (and net-autostart ${n.network} so it survives a reboot)`,
        });
    } else if (n.bridge !== undefined) {
      if (!host.interfaces.includes(n.bridge))
        problems.push({
          field: `nics[${i}].bridge`,
          problem: `bridge "${n.bridge}" does not exist on ${hostName} (bridges there: ${listOrNone(host.bridges)})`,
          fix: "use one of those bridges, or create it in the host's network configuration, or use a libvirt network (nics[].network) instead",
        });
      else if (!host.bridges.includes(n.bridge))
        problems.push({
          field: `nics[${i}].bridge`,
          problem: `"${n.bridge}" on ${hostName} is a network interface, not a Linux bridge (bridges there: ${listOrNone(host.bridges)})`,
          fix: "name a bridge (enslave the interface to one), or use a libvirt network (nics[].network) instead",
        });
    }
  });
  return problems;
}

/** One InputError for all NIC problems (the engine shows one message per resource). */
export function nicProblemsError(label: string, problems: NicProblem[]): InputError {
  const fixes = problems.map((p) => p.fix).filter((f, i, all) => all.indexOf(f) === i);
  return new InputError(
    label,
    problems.map((p) => p.field).join(", "),
    `${problems.map((p) => p.problem).join("; ")}; nothing was defined`,
    fixes.join("; "),
  );
}

/**
 * The error for a domain name the host already uses for a domain that is not this resource's
 * (another environment's VM, or a leftover). The other domain is never touched.
 */
export function duplicateDomainError(
  label: string,
  name: string,
  hostName: string,
  uuid: string,
): InputError {
  return new InputError(
    label,
    "name",
    `a domain named ${name} already exists on ${hostName} (uuid ${uuid}) and is not this resource's ` +
      "(another environment's VM, or a leftover); it was left untouched and nothing was defined",
    "choose another name (the VM components' domainName, or another envNumber: default names carry it, " +
      `build-<X>-node), or, if that domain is a leftover nobody uses, remove it first: ` +
      `virsh -c qemu:///system undefine --nvram ${name}`,
  );
}

/** `virsh define`'s refusal of a name taken by another UUID: the name and that UUID, else undefined. */
export function parseDuplicateDefine(message: string): { name: string; uuid: string } | undefined {
  const m = /domain '([^']+)' already exists with uuid ([0-9a-fA-F-]{36})/.exec(message);
  return m ? { name: m[1], uuid: m[2].toLowerCase() } : undefined;
}

/** What curl said when a fetch failed, and what the user should do about it. */
export interface FetchFailure {
  /** e.g. "curl exit 22: The requested URL returned error: 404 (HTTP 404)". */
  said: string;
  fix: string;
}

/**
 * Explains a failed `curl -fsS` from its stderr (`curl: (<code>) <message>`). Undefined when the
 * failure was not curl's (curl missing, mkdir failed): that is the host's problem, not the URL's.
 */
export function describeFetchFailure(stderr: string): FetchFailure | undefined {
  const lines = [...stderr.matchAll(/curl: \((\d+)\)\s*([^\n]*)/g)];
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  const code = Number(last[1]);
  const msg = last[2].trim();
  const http = /returned error:?\s*(\d{3})/.exec(msg)?.[1];
  const said = `curl exit ${code}: ${msg}${http ? ` (HTTP ${http})` : ""}`;
  const check = "then check with `curl -fSL -o /dev/null <url>` on the KVM host";
  let fix: string;
  if (code === 37 || code === 78)
    fix =
      "a file:// URL is read on the KVM host, not where pulumi runs: copy the image to that path on the KVM host, or fix the path";
  else if (http === "404" || http === "410")
    fix = `nothing is published at that URL: fix the path (releases move; copy the current URL and sha256 from the publisher), ${check}`;
  else if (http === "401" || http === "403")
    fix = `the server refuses access: use a public URL or a mirror the KVM host may read, ${check}`;
  else if (http && http.startsWith("5")) fix = `the server failed: retry later or use a mirror, ${check}`;
  else if (code === 6)
    fix = `the KVM host cannot resolve the URL's host name: fix the name or the host's DNS, ${check}`;
  else if (code === 7)
    fix = `nothing accepted the connection: fix the URL's host and port, or start the server / open the firewall between it and the KVM host, ${check}`;
  else if (code === 28)
    fix = `the download timed out: raise downloadTimeoutSeconds or use a closer mirror, ${check}`;
  else if ([35, 51, 58, 60].includes(code))
    fix = `TLS failed: check the server's certificate and the KVM host's CA certificates, ${check}`;
  else fix = `fix the URL, ${check}`;
  return { said, fix };
}
