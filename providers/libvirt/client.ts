/**
 * libvirt/KVM over SSH: plain TypeScript, no Pulumi (usable from providers, scripts and tests).
 * This file is the client (commands on one host); the domain XML (domain-xml.ts), the virsh output
 * parsers (virsh-parse.ts) and KVM detection (kvm-detect.ts) are re-exported from here.
 *
 * Everything runs on the KVM host through one SSH session per resource operation (`withSsh`),
 * one command at a time (a `;`-joined line hides earlier failures), always with
 * `virsh -c qemu:///system`. Disks are `type='file'` with absolute paths (no pool volumes: avoids
 * the AppArmor/permission problems of `type='volume'`), the cloud-init seed is a SATA cdrom.
 *
 * Plain module: the dynamic providers inline it by value, so it imports only providers/shared.
 */
import { errorMessage, InputError, OperationError, redact } from "../shared/errors";
import { pollUntil } from "../shared/retry";
import { shellQuote, type SshSession, type SshTarget } from "../shared/ssh";
import { sshTargetOf as sharedSshTargetOf, type SshTargetFields } from "../shared/ssh-target";
import {
  describeFetchFailure,
  duplicateDomainError,
  HOST_NETWORK_MARKS,
  parseDuplicateDefine,
  parseHostNetworks,
  type HostNetworks,
} from "./preflight";
import { decideDomainType, type DomainType, type DomainTypeSetting, type KvmProbe } from "./kvm-detect";
import { parseDominfo, parseDomifaddr, type DomainInfo, type InterfaceAddress } from "./virsh-parse";

// Split by job; everything stays importable from this module (its old path).
export * from "./domain-xml";
export * from "./virsh-parse";
export * from "./kvm-detect";

/**
 * How to reach the KVM host: the shared `SshTarget` fields, stored flat in each libvirt resource's
 * state (so each field diffs on its own). The user must be root or in the `libvirt` group.
 */
export type LibvirtConnection = SshTargetFields;

/** The SSH target for a libvirt connection (defaults filled in, an empty pin = unpinned). */
export function sshTargetOf(c: LibvirtConnection): SshTarget {
  return sharedSshTargetOf(c as unknown as Record<string, unknown>);
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

const VIRSH = "virsh -c qemu:///system";

/** Commands on one KVM host over an open SSH session; `label` names the resource in errors. */
export class LibvirtClient {
  constructor(
    readonly ssh: SshSession,
    readonly label: string,
  ) {}

  /** Runs `virsh -c qemu:///system <args>`, every argument quoted. */
  virsh(args: string[], opts: { write?: boolean; check?: boolean; step?: string } = {}) {
    return this.ssh.exec(`${VIRSH} ${args.map(shellQuote).join(" ")}`, {
      write: opts.write,
      check: opts.check,
      step: opts.step ?? `virsh ${args[0]}`,
    });
  }

  // --- domains -------------------------------------------------------------------------------

  /** dominfo of a domain by name or UUID; undefined when it does not exist. */
  async domainInfo(nameOrUuid: string): Promise<DomainInfo | undefined> {
    const r = await this.virsh(["dominfo", nameOrUuid], { check: false });
    if (r.code !== 0) {
      if (/failed to get domain|Domain not found|no domain with matching/i.test(r.stderr)) return undefined;
      throw new OperationError(this.label, "virsh dominfo", r.stderr.trim() || `exit status ${r.code}`);
    }
    return parseDominfo(r.stdout);
  }

  async dumpInactiveXml(nameOrUuid: string): Promise<string> {
    return (await this.virsh(["dumpxml", "--inactive", nameOrUuid])).stdout;
  }

  /**
   * Defines (or re-defines, same UUID) a domain from XML: one round trip, temp file removed.
   * libvirt refuses a name that another UUID holds (and leaves that domain alone): that becomes
   * the InputError on `name`.
   */
  async define(xml: string): Promise<void> {
    try {
      await this.ssh.exec(`f=$(mktemp) && cat > "$f" && ${VIRSH} define "$f"; rc=$?; rm -f "$f"; exit $rc`, {
        stdin: xml,
        write: true,
        step: "virsh define",
      });
    } catch (err) {
      const dup = parseDuplicateDefine(errorMessage(err));
      if (dup) throw duplicateDomainError(this.label, dup.name, this.ssh.target.host, dup.uuid);
      throw err;
    }
  }

  async start(uuid: string): Promise<void> {
    await this.virsh(["start", uuid], { write: true });
  }

  async setAutostart(uuid: string, on: boolean): Promise<void> {
    await this.virsh(on ? ["autostart", uuid] : ["autostart", "--disable", uuid], { write: true });
  }

  /** Hard power-off; no error when it is already off. */
  async destroyIfRunning(uuid: string): Promise<void> {
    const info = await this.domainInfo(uuid);
    if (!info || info.state === "shut off") return;
    await this.virsh(["destroy", uuid], { write: true });
  }

  /**
   * ACPI shutdown, polled until off within `timeoutMs`, then a hard power-off if the guest did
   * not comply (no ACPI daemon, still booting).
   */
  async stop(uuid: string, timeoutMs: number): Promise<void> {
    const info = await this.domainInfo(uuid);
    if (!info || info.state === "shut off") return;
    await this.virsh(["shutdown", uuid], { write: true, check: false });
    try {
      await pollUntil(
        async () => {
          const i = await this.domainInfo(uuid);
          return !i || i.state === "shut off" ? true : { pending: i.state };
        },
        { timeoutMs, intervalMs: 1000, what: `domain ${uuid} to shut down` },
      );
    } catch {
      await this.destroyIfRunning(uuid);
    }
  }

  /** Removes the definition (and any NVRAM); no error when it is already gone. */
  async undefine(uuid: string): Promise<void> {
    if (!(await this.domainInfo(uuid))) return;
    await this.virsh(["undefine", "--nvram", uuid], { write: true });
  }

  /** Addresses by source; `any` tries lease, then agent, then arp. */
  async addresses(uuid: string, source: "lease" | "agent" | "arp" | "any"): Promise<InterfaceAddress[]> {
    const sources = source === "any" ? (["lease", "agent", "arp"] as const) : [source];
    for (const s of sources) {
      const r = await this.virsh(["domifaddr", uuid, "--source", s], { check: false });
      if (r.code !== 0) continue;
      const found = parseDomifaddr(r.stdout).filter((a) => a.protocol === "ipv4");
      if (found.length) return found;
    }
    return [];
  }

  /** Polls until the NIC with `mac` has an IPv4 address, or fails after `timeoutMs`. */
  async waitForAddress(
    uuid: string,
    mac: string,
    source: "lease" | "agent" | "arp" | "any",
    timeoutMs: number,
  ): Promise<string> {
    return pollUntil(
      async () => {
        const info = await this.domainInfo(uuid);
        if (!info) throw new OperationError(this.label, "wait for address", "the domain disappeared");
        if (info.state !== "running")
          throw new OperationError(
            this.label,
            "wait for address",
            `the domain is ${info.state}, not running`,
            "the serial console log and /var/log/libvirt/qemu/<name>.log on the KVM host",
          );
        const hit = (await this.addresses(uuid, source)).find((a) => a.mac === mac.toLowerCase());
        return hit ? hit.address : { pending: `no ${source} address yet for ${mac}` };
      },
      { timeoutMs, intervalMs: 2000, what: `an IPv4 address for ${mac} (source ${source})` },
    );
  }

  // --- networks ------------------------------------------------------------------------------

  /** The host's libvirt networks (all, active), interfaces and bridges, in one round trip. */
  async hostNetworks(): Promise<HostNetworks> {
    const m = HOST_NETWORK_MARKS;
    const r = await this.ssh.exec(
      `echo ${m.all} && ${VIRSH} net-list --all --name && echo ${m.active} && ${VIRSH} net-list --name && ` +
        `echo ${m.ifaces} && for d in /sys/class/net/*; do ` +
        `if [ -d "$d/bridge" ]; then echo "bridge \${d##*/}"; else echo "iface \${d##*/}"; fi; done`,
      { step: "list the host's libvirt networks and bridges" },
    );
    return parseHostNetworks(r.stdout);
  }

  // --- files ---------------------------------------------------------------------------------

  async fileExists(path: string): Promise<boolean> {
    const r = await this.ssh.exec(`test -e ${shellQuote(path)}`, { check: false, step: `stat ${path}` });
    return r.code === 0;
  }

  async sha256(path: string): Promise<string> {
    const r = await this.ssh.exec(`sha256sum ${shellQuote(path)}`, { step: `sha256sum ${path}` });
    return r.stdout.trim().split(/\s+/)[0];
  }

  /**
   * Files in `dir` whose qcow2 backing file is `path`: other VMs' disks (maybe another
   * environment's) on a shared base image. One round trip; `-U` reads images of running VMs.
   */
  async filesBackedBy(path: string, dir: string): Promise<string[]> {
    const needle = shellQuote(`"backing-filename": ${JSON.stringify(path)}`);
    const r = await this.ssh.exec(
      `for f in ${shellQuote(dir)}/*; do [ -f "$f" ] && [ "$f" != ${shellQuote(path)} ] || continue; ` +
        `qemu-img info -U --output=json "$f" 2>/dev/null | grep -qF ${needle} && echo "$f"; done; true`,
      { step: `find disks backed by ${path}` },
    );
    return r.stdout.split("\n").filter(Boolean);
  }

  async removeFile(path: string): Promise<void> {
    await this.ssh.exec(`rm -f ${shellQuote(path)}`, { write: true, step: `remove ${path}` });
  }

  /**
   * Downloads `url` to `dest` on the host and checks its sha256; the file appears under `dest`
   * only when the digest matches (temp file + rename). A mismatch removes the temp file and
   * throws an InputError naming the URL and both digests.
   */
  async fetchVerified(url: string, dest: string, sha256: string, timeoutSeconds: number): Promise<void> {
    const tmp = `${dest}.g8os-download`;
    const q = shellQuote(tmp);
    // A password in the URL stays out of every message.
    const urlSecrets = [urlPassword(url)];
    const shown = redact(url, urlSecrets);
    const r = await this.ssh.exec(
      `mkdir -p ${shellQuote(dirOf(dest))} && curl -fsSL --max-time ${Math.ceil(timeoutSeconds)} -o ${q} ${shellQuote(url)}`,
      { write: true, check: false, step: `download ${shown}`, secrets: urlSecrets },
    );
    if (r.code !== 0) {
      // curl may have written part of the file before failing: nothing partial stays in the pool.
      await this.removeFile(tmp);
      const curl = describeFetchFailure(r.stderr);
      if (curl)
        throw new InputError(
          this.label,
          "sourceUrl",
          redact(
            `the KVM host ${this.ssh.target.host} could not fetch ${url}: ${curl.said}; nothing was kept`,
            urlSecrets,
          ),
          curl.fix,
        );
      throw new OperationError(
        this.label,
        `download ${shown}`,
        redact(`exit status ${r.code}: ${(r.stderr || r.stdout).trim() || "(no output)"}`, urlSecrets),
        "that curl is installed on the KVM host and the pool directory is writable",
      );
    }
    const actual = await this.sha256(tmp);
    if (actual !== sha256) {
      await this.removeFile(tmp);
      throw new InputError(
        this.label,
        "sha256",
        `the image at ${url} has sha256 ${actual}, expected ${sha256}; nothing was kept`,
        "pin the digest the image publisher lists (SHA256SUMS next to the image), or fix the URL",
      );
    }
    await this.ssh.exec(`mv -n ${q} ${shellQuote(dest)} && test ! -e ${q}`, {
      write: true,
      step: `move the verified image into ${dest}`,
    });
  }

  /**
   * Creates a qcow2 overlay on `backing` (qemu-img silently overwrites, so refuse an existing
   * file first). `size` like "20G"; omitted = the backing image's size.
   */
  async createOverlay(backing: string, dest: string, size?: string): Promise<void> {
    if (await this.fileExists(dest))
      throw new InputError(
        this.label,
        "name",
        `${dest} already exists on the KVM host and would be overwritten`,
        "choose another volume name, or remove the file if nothing uses it",
      );
    const args = ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, dest];
    if (size) args.push(size);
    await this.ssh.exec(args.map(shellQuote).join(" "), { write: true, step: "qemu-img create overlay" });
  }

  /**
   * Writes a NoCloud seed ISO at `dest` (atomic rename). File bodies travel base64-encoded on
   * stdin, so user-data (secret) never appears on a command line. cloud-localds when present,
   * else genisoimage with volume id `cidata`. `replace: false` (a new seed) refuses a file that is
   * already there (another environment's seed, a leftover): InputError on `name`, file untouched.
   */
  async writeSeedIso(
    dest: string,
    files: { userData: string; metaData: string; networkConfig?: string },
    secrets: string[],
    opts: { replace: boolean },
  ): Promise<void> {
    const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
    const stdin = `${b64(files.userData)}\n${b64(files.metaData)}\n${b64(files.networkConfig ?? "")}\n`;
    const out = shellQuote(dest);
    const tmp = shellQuote(`${dest}.g8os-tmp`);
    const EXISTS = 17;
    // Checked first (nothing built), and again atomically at the end: `ln` fails on an existing file.
    const place = opts.replace
      ? [`mv -f ${tmp} ${out}`]
      : [`if ! ln ${tmp} ${out}; then [ -e ${out} ] && exit ${EXISTS}; exit 1; fi`];
    const script = [
      "set -e",
      "umask 077",
      ...(opts.replace ? [] : [`if [ -e ${out} ]; then exit ${EXISTS}; fi`]),
      // The temp ISO goes too when a step fails, so nothing half-built is left in the pool.
      `d=$(mktemp -d); trap "rm -rf '$d' ${tmp}" EXIT`,
      "read -r u; read -r m; read -r n",
      'printf %s "$u" | base64 -d > "$d/user-data"',
      'printf %s "$m" | base64 -d > "$d/meta-data"',
      `mkdir -p ${shellQuote(dirOf(dest))}`,
      'if [ -n "$n" ]; then printf %s "$n" | base64 -d > "$d/network-config"; fi',
      "if command -v cloud-localds >/dev/null 2>&1; then",
      `  if [ -n "$n" ]; then cloud-localds -N "$d/network-config" ${tmp} "$d/user-data" "$d/meta-data"; ` +
        `else cloud-localds ${tmp} "$d/user-data" "$d/meta-data"; fi`,
      "else",
      `  (cd "$d" && genisoimage -quiet -output ${tmp} -volid cidata -joliet -rock user-data meta-data $( [ -n "$n" ] && echo network-config ))`,
      "fi",
      `chmod 0644 ${tmp}`,
      ...place,
    ].join("\n");
    const r = await this.ssh.exec(`sh -c ${shellQuote(script)}`, {
      stdin,
      write: true,
      check: false,
      step: "build the cloud-init seed ISO",
      secrets,
    });
    if (r.code === EXISTS)
      throw new InputError(
        this.label,
        "name",
        `${dest} already exists on the KVM host ${this.ssh.target.host} and is not this resource's ` +
          "(another environment's seed, or a leftover); it was left untouched",
        "choose another name, or remove the file if no domain uses it (virsh domblklist <domain> lists a domain's files)",
      );
    if (r.code !== 0)
      throw new OperationError(
        this.label,
        "build the cloud-init seed ISO",
        redact(`exit status ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-5).join(" | ")}`, [
          ...secrets,
          this.ssh.target.privateKey,
        ]),
        "that cloud-localds (cloud-image-utils) or genisoimage is installed on the KVM host",
      );
  }

  // --- host ----------------------------------------------------------------------------------

  /** Probes the host for `decideDomainType` (one round trip). */
  async probeKvm(): Promise<KvmProbe> {
    const r = await this.ssh.exec(
      "test -e /dev/kvm && echo devkvm; " +
        "grep -qwE 'vmx|svm' /proc/cpuinfo && echo cpuvirt; " +
        "grep -qw hypervisor /proc/cpuinfo && echo nested; " +
        `${VIRSH} domcapabilities --virttype kvm >/dev/null 2>&1 && echo libvirtkvm; true`,
      { step: "probe KVM support" },
    );
    const seen = new Set(r.stdout.split(/\s+/));
    return {
      devKvm: seen.has("devkvm"),
      cpuVirt: seen.has("cpuvirt"),
      nested: seen.has("nested"),
      libvirtKvm: seen.has("libvirtkvm"),
    };
  }

  /** Resolves a domainType setting: `auto` probes the host. */
  async resolveDomainType(setting: DomainTypeSetting): Promise<{ domainType: DomainType; reason: string }> {
    if (setting !== "auto") return { domainType: setting, reason: "set explicitly" };
    return decideDomainType(await this.probeKvm());
  }
}

/** The password in a URL's user info ("" when none), to redact it from messages. */
export function urlPassword(url: string): string {
  try {
    // As it appears in the URL text (percent-encoded), which is what messages would show.
    return new URL(url).password;
  } catch {
    return "";
  }
}

/** Directory part of an absolute POSIX path. */
export function dirOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/** Joins a directory and a file name with exactly one slash. */
export function joinPath(dir: string, file: string): string {
  return dir.replace(/\/+$/, "") + "/" + file;
}
