/**
 * Typed, validated stack config. Each stack reads its whole config here, up front: every problem is
 * reported in one ConfigError before any resource is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  cidr,
  hostname,
  httpUrl,
  intInRange,
  ipv4,
  nonEmptyString,
  parseIPv4,
  sha256Hex,
  sshPublicKey,
} from "../providers/shared/validate";
import { offsetIPv4, VM_ADDRESS_OFFSETS } from "../components/vm/cloud-init";
import { readBuildRunSettings, type BuildRunSettings } from "./build-runs";
import { ConfigReader } from "./config-reader";

/** Telegram build group the stack reports to. */
export interface TelegramSettings {
  botToken: pulumi.Output<string>;
  chatId: string;
  topicId?: number;
  apiRoot: string;
}

export interface ZerotierSettings {
  backend: "central" | "controller";
  apiUrl: string;
  token: pulumi.Output<string>;
  networkName: string;
  pools: { start: string; end: string }[];
  routes: string[];
  /** Seconds to wait for SSH over ZeroTier. */
  timeoutSec?: number;
}

export type KeySourceSettings =
  | {
      kind: "itsyouonline";
      baseUrl: string;
      organization: string;
      clientId: string;
      clientSecret: pulumi.Output<string>;
      extraKeys: string[];
    }
  | { kind: "keys-url"; baseUrl: string; users: string[]; extraKeys: string[] }
  | { kind: "inline"; keys: string[] };

export interface BuildHostSettings {
  name: string;
  /** Fixed ZeroTier address of the host (outside the auto-assign pools). */
  zerotierIp: string;
  address: string;
  port: number;
  user: string;
  hostKeySha256?: string;
  bootstrapPrivateKey: pulumi.Output<string>;
  /** Overrides how zerotier-one is installed when missing. */
  zerotierInstallCommand?: string;
  /** Seconds the ufw dead-man switch waits for confirmation. */
  firewallConfirmTimeoutSec?: number;
}

/** The VMs on the physical host (g8os:vmsEnabled): build node, 2 core0 nodes, cockpit. */
export interface VmSettings {
  /** Ubuntu cloud image (qcow2) URL and its pinned sha256. */
  image: { url: string; sha256: string };
  /** core0 kernel (EFI image or bzImage) and optional initrd, each URL + sha256. */
  core0Kernel: { url: string; sha256: string };
  core0Initrd?: { url: string; sha256: string };
  core0KernelFlags: string[];
  /** Fixed ZeroTier IPs (default: buildHostZerotierIp + 1, +2/+3, +4). */
  buildNodeZerotierIp: string;
  core0ZerotierIps: [string, string];
  cockpitZerotierIp: string;
  /** Check the core0 nodes over redis after boot. */
  core0VerifyRedis: boolean;
  kvmDomainType: "auto" | "kvm" | "qemu";
}

export interface BuildConfig {
  envNumber: number;
  telegram: TelegramSettings;
  zerotier: ZerotierSettings;
  keySource: KeySourceSettings;
  buildHost: BuildHostSettings;
  /** Unset unless g8os:vmsEnabled is true. */
  vms?: VmSettings;
  /** Unset unless g8os:buildTreeDir is set (needs the VMs). */
  buildRuns?: BuildRunSettings;
}

/** Checks one fixed ZeroTier address: IPv4, inside a route, outside every auto-assign pool. */
function checkFixedAddress(
  r: ConfigReader,
  key: string,
  ip: string,
  zerotier: ZerotierSettings,
): number | undefined {
  const n = parseIPv4(ip);
  if (n === undefined) {
    r.problem(key, `"${ip}" is not an IPv4 address`);
    return undefined;
  }
  if (!inAnyRoute(n, n, zerotier.routes))
    r.problem(key, `${ip} is not inside any of zerotierRoutes (${zerotier.routes.join(", ")})`);
  zerotier.pools.forEach((p, i) => {
    if (n >= parseIPv4(p.start)! && n <= parseIPv4(p.end)!)
      r.problem(
        key,
        `${ip} is inside zerotierPools[${i}] (${p.start}-${p.end}); pick a fixed address outside the auto-assign pools`,
      );
  });
  return n;
}

const booleanText = (v: unknown) => (v === "true" || v === "false" ? undefined : "must be true or false");

/** Reads the VM keys (only when vmsEnabled): images pinned by sha256, fixed addresses, flags. */
function readVmConfig(r: ConfigReader, zerotier: ZerotierSettings, hostZtIp: string): VmSettings | undefined {
  if ((r.string("vmsEnabled", { check: booleanText, default: "false" }) ?? "false") !== "true")
    return undefined;
  const pinned = (urlKey: string, shaKey: string, defaultUrl?: string, required = true) => {
    const url = defaultUrl
      ? r.string(urlKey, { check: httpUrl, default: defaultUrl })!
      : required
        ? r.string(urlKey, { required: true, example: "https://example.org/image", check: httpUrl })
        : r.string(urlKey, { check: httpUrl });
    if (url === undefined) return undefined;
    const sha256 = r.string(shaKey, {
      required: true,
      example: "<64 hex chars from the publisher's SHA256SUMS>",
      check: sha256Hex,
    });
    return { url, sha256: sha256 ?? "" };
  };
  // No default digest: `current/` changes with every rebuild, so only the operator can pin one.
  const image = pinned("vmImageUrl", "vmImageSha256", DEFAULT_UBUNTU_IMAGE_URL)!;
  const core0Kernel = pinned("core0KernelUrl", "core0KernelSha256") ?? { url: "", sha256: "" };
  const core0Initrd = pinned("core0InitrdUrl", "core0InitrdSha256", undefined, false);
  const flags = stringList(r, "core0KernelFlags") ?? [];
  flags.forEach((f, i) => {
    if (!/^[a-z][a-z0-9_.-]*(=[A-Za-z0-9_.:/-]+)?$/.test(f))
      r.problem(
        `core0KernelFlags[${i}]`,
        `"${f}" must be one word or key=value without spaces (e.g. "development")`,
      );
  });
  const base = parseIPv4(hostZtIp) === undefined ? "0.0.0.0" : hostZtIp;
  const fixed = (key: string, offset: number) => {
    const ip = r.string(key, { default: offsetIPv4(base, offset) })!;
    checkFixedAddress(r, key, ip, zerotier);
    return ip;
  };
  const core0List =
    stringList(r, "core0ZerotierIps") ?? VM_ADDRESS_OFFSETS.core0.map((o) => offsetIPv4(base, o));
  if (core0List.length !== 2)
    r.problem("core0ZerotierIps", `must list exactly 2 addresses, one per core0 node`);
  core0List.forEach((ip, i) => checkFixedAddress(r, `core0ZerotierIps[${i}]`, ip, zerotier));
  const settings: VmSettings = {
    image,
    core0Kernel,
    core0Initrd,
    core0KernelFlags: flags,
    buildNodeZerotierIp: fixed("buildNodeZerotierIp", VM_ADDRESS_OFFSETS.buildNode),
    core0ZerotierIps: [core0List[0] ?? "", core0List[1] ?? ""],
    cockpitZerotierIp: fixed("cockpitZerotierIp", VM_ADDRESS_OFFSETS.cockpit),
    core0VerifyRedis: r.string("core0VerifyRedis", { check: booleanText, default: "false" }) === "true",
    kvmDomainType: "auto",
  };
  const dt = r.string("kvmDomainType", { default: "auto" })!;
  if (dt === "auto" || dt === "kvm" || dt === "qemu") settings.kvmDomainType = dt;
  else r.problem("kvmDomainType", `is "${dt}"; use "auto", "kvm" or "qemu"`);
  const all = [
    hostZtIp,
    settings.buildNodeZerotierIp,
    ...settings.core0ZerotierIps,
    settings.cockpitZerotierIp,
  ];
  const dup = all.find((ip, i) => all.indexOf(ip) !== i);
  if (dup)
    r.problem(
      "buildNodeZerotierIp",
      `${dup} is used twice among the host and VM addresses; give each its own`,
    );
  return settings;
}

/** Ubuntu 24.04 (noble); its sha256 must be configured (g8os:vmImageSha256). */
export const DEFAULT_UBUNTU_IMAGE_URL =
  "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img";

function stringList(r: ConfigReader, key: string): string[] | undefined {
  const v = new pulumi.Config("g8os").getObject<unknown>(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    r.problem(key, `must be a list of strings, e.g. ["a", "b"]`);
    return undefined;
  }
  return v as string[];
}

function ipv4FromNumber(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** True when the range a..b (numeric IPv4) lies inside one of the CIDRs. */
function inAnyRoute(a: number, b: number, routes: string[]): boolean {
  return routes.some((c) => {
    if (cidr(c)) return false;
    const [ip, bits] = c.split("/");
    const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
    const net = (parseIPv4(ip)! & mask) >>> 0;
    return (a & mask) >>> 0 === net && (b & mask) >>> 0 === net;
  });
}

/** Parses `start-end` pools and checks each lies inside a route. */
function parsePools(r: ConfigReader, pools: string[], routes: string[]): { start: string; end: string }[] {
  const out: { start: string; end: string }[] = [];
  pools.forEach((p, i) => {
    const [start, end, extra] = p.split("-").map((s) => s.trim());
    const a = start ? parseIPv4(start) : undefined;
    const b = end ? parseIPv4(end) : undefined;
    if (extra !== undefined || a === undefined || b === undefined) {
      r.problem(
        `zerotierPools[${i}]`,
        `"${p}" is not a pool; use "<first IP>-<last IP>", e.g. "10.147.17.10-10.147.17.250"`,
      );
      return;
    }
    if (a > b) {
      r.problem(`zerotierPools[${i}]`, `"${p}" starts after it ends; swap the two addresses`);
      return;
    }
    if (!inAnyRoute(a, b, routes))
      r.problem(
        `zerotierPools[${i}]`,
        `"${p}" is not inside any of zerotierRoutes (${routes.join(", ")}); add a route that contains it`,
      );
    out.push({ start, end });
  });
  return out;
}

/** Reads and validates the build stack's config; throws one ConfigError listing every problem. */
export function readBuildConfig(envNumber: number): BuildConfig {
  const r = new ConfigReader();

  const telegram: TelegramSettings = {
    botToken: r.secret("telegramBotToken", { required: true, what: "Telegram bot token" }),
    chatId:
      r.string("telegramChatId", { required: true, example: "-1001234567890", check: nonEmptyString }) ?? "",
    topicId: undefined,
    apiRoot: r.string("telegramApiRoot", { check: httpUrl, default: "https://api.telegram.org" })!,
  };
  const topic = r.string("telegramTopicId");
  if (topic !== undefined) {
    const n = Number(topic);
    if (intInRange(1, 2 ** 31)(n))
      r.problem("telegramTopicId", "must be a positive whole number (the forum topic's message_thread_id)");
    else telegram.topicId = n;
  }

  const backend = r.string("zerotierBackend", { default: "central" })!;
  if (backend !== "central" && backend !== "controller") {
    r.problem("zerotierBackend", `is "${backend}"; use "central" or "controller"`);
  }
  const routes = stringList(r, "zerotierRoutes") ?? ["10.147.17.0/24"];
  routes.forEach((c, i) => {
    const why = cidr(c);
    if (why) r.problem(`zerotierRoutes[${i}]`, `"${c}" ${why}`);
  });
  const zerotier: ZerotierSettings = {
    backend: backend === "controller" ? "controller" : "central",
    apiUrl: r.string("zerotierApiUrl", { check: httpUrl, default: "https://api.zerotier.com/api/v1" })!,
    token: r.secret("zerotierToken", { required: true, what: "ZeroTier API token" }),
    networkName: r.string("zerotierNetworkName", { default: `g8os-build-${envNumber}` })!,
    pools: [],
    routes,
  };
  const ztTimeout = r.string("zerotierTimeoutSec");
  if (ztTimeout !== undefined) {
    const n = Number(ztTimeout);
    if (intInRange(5, 3600)(n))
      r.problem("zerotierTimeoutSec", "must be a whole number of seconds from 5 to 3600");
    else zerotier.timeoutSec = n;
  }
  zerotier.pools = parsePools(r, stringList(r, "zerotierPools") ?? ["10.147.17.10-10.147.17.250"], routes);

  const source = r.string("keySource", { default: "itsyouonline" })!;
  const inline = stringList(r, "keyInline") ?? [];
  inline.forEach((k, i) => {
    const why = sshPublicKey(k);
    if (why) r.problem(`keyInline[${i}]`, why);
  });
  let keySource: KeySourceSettings;
  if (source === "itsyouonline") {
    keySource = {
      kind: "itsyouonline",
      baseUrl: r.string("keySourceUrl", { check: httpUrl, default: "https://itsyou.online" })!,
      organization: r.string("keyOrganization", { default: "gig_build" })!,
      clientId: r.string("itsyouonlineClientId", { required: true, example: "<client id>" }) ?? "",
      clientSecret: r.secret("itsyouonlineClientSecret", {
        required: true,
        what: "ItsYou.online client secret",
      }),
      extraKeys: inline,
    };
  } else if (source === "keys-url") {
    const users = stringList(r, "keyUsers") ?? [];
    if (users.length === 0)
      r.problem("keyUsers", `must list at least one user for keySource keys-url, e.g. ["alice", "bob"]`);
    keySource = {
      kind: "keys-url",
      baseUrl:
        r.string("keySourceUrl", { required: true, example: "https://github.com", check: httpUrl }) ?? "",
      users,
      extraKeys: inline,
    };
  } else if (source === "inline") {
    if (inline.length === 0) r.problem("keyInline", `must list at least one public key for keySource inline`);
    keySource = { kind: "inline", keys: inline };
  } else {
    r.problem("keySource", `is "${source}"; use "itsyouonline", "keys-url" or "inline"`);
    keySource = { kind: "inline", keys: inline };
  }

  // The host's fixed ZeroTier address: default the first address of the first route, which the
  // default pool leaves free (fixed addresses must stay outside the auto-assign pools).
  const firstRoute = routes.find((c) => !cidr(c));
  const defaultZtIp = firstRoute ? ipv4FromNumber((parseIPv4(firstRoute.split("/")[0])! >>> 0) + 1) : "";
  const hostZtIp = r.string("buildHostZerotierIp", { check: ipv4, default: defaultZtIp })!;
  const hostZtNum = parseIPv4(hostZtIp);
  if (hostZtNum !== undefined) {
    if (!inAnyRoute(hostZtNum, hostZtNum, routes)) {
      r.problem(
        "buildHostZerotierIp",
        `${hostZtIp} is not inside any of zerotierRoutes (${routes.join(", ")})`,
      );
    }
    zerotier.pools.forEach((p, i) => {
      if (hostZtNum >= parseIPv4(p.start)! && hostZtNum <= parseIPv4(p.end)!) {
        r.problem(
          "buildHostZerotierIp",
          `${hostZtIp} is inside zerotierPools[${i}] (${p.start}-${p.end}); pick a fixed address outside the auto-assign pools`,
        );
      }
    });
  }
  const port = Number(r.string("buildHostPort", { default: "22" }));
  if (intInRange(1, 65535)(port)) r.problem("buildHostPort", "must be a TCP port from 1 to 65535");
  const buildHost: BuildHostSettings = {
    name: r.string("buildHostName", { required: true, example: "ovh4", check: hostname }) ?? "",
    zerotierIp: hostZtIp,
    address: r.string("buildHostAddress", { required: true, example: "203.0.113.10", check: hostname }) ?? "",
    port,
    user: r.string("buildHostUser", { default: "root", check: nonEmptyString })!,
    hostKeySha256: r.string("buildHostKeySha256", {
      check: (v) =>
        typeof v === "string" && /^SHA256:[A-Za-z0-9+/]{43}$/.test(v)
          ? undefined
          : "must look like SHA256:<43 base64 chars> (ssh-keygen -lf output)",
    }),
    bootstrapPrivateKey: r.secret("bootstrapPrivateKey", {
      required: true,
      what: "SSH private key for the physical host",
    }),
    zerotierInstallCommand: r.string("zerotierInstallCommand", { check: nonEmptyString }),
  };
  const confirm = r.string("firewallConfirmTimeoutSec");
  if (confirm !== undefined) {
    const n = Number(confirm);
    if (intInRange(10, 3600)(n))
      r.problem("firewallConfirmTimeoutSec", "must be a whole number of seconds from 10 to 3600");
    else buildHost.firewallConfirmTimeoutSec = n;
  }

  const vms = readVmConfig(r, zerotier, hostZtIp);
  const buildRuns = readBuildRunSettings(r);
  if (buildRuns && !vms) {
    r.problem(
      "buildTreeDir",
      "is set but the VMs are off: build runs need the build node and core0 nodes. Fix: `pulumi config set g8os:vmsEnabled true`",
    );
  }

  r.done();
  return { envNumber, telegram, zerotier, keySource, buildHost, vms, buildRuns };
}
