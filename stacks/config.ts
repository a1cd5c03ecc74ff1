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
  itsyouonlineOrganization,
  noSurroundingSpaces,
  nonEmptyString,
  opensshPublicKey,
  parseIPv4,
  sha256Hex,
  unencryptedPrivateKey,
  type Validator,
} from "../providers/shared/validate";
import { offsetIPv4, VM_ADDRESS_OFFSETS } from "../components/vm";
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
    r.add(key, `"${ip}" is not an IPv4 address`, `set a fixed address like 10.147.17.5`);
    return undefined;
  }
  if (zerotier.routes.some((c) => !cidr(c)) && !inAnyRoute(n, n, zerotier.routes))
    r.add(
      key,
      `${ip} is not inside any of zerotierRoutes (${zerotier.routes.join(", ")})`,
      "pick an address inside a route, or add a route that contains it",
    );
  zerotier.pools.forEach((p, i) => {
    if (n >= parseIPv4(p.start)! && n <= parseIPv4(p.end)!)
      r.add(
        key,
        `${ip} is inside zerotierPools[${i}] (${p.start}-${p.end})`,
        "pick a fixed address outside the auto-assign pools",
      );
  });
  return n;
}

const booleanText = (v: unknown) => (v === "true" || v === "false" ? undefined : "must be true or false");

/** Reads the VM keys (only when vmsEnabled): images pinned by sha256, fixed addresses, flags. */
function readVmConfig(r: ConfigReader, zerotier: ZerotierSettings, hostZtIp: string): VmSettings | undefined {
  if (
    (r.string("vmsEnabled", { check: booleanText, example: "true", default: "false" }) ?? "false") !== "true"
  )
    return undefined;
  const pinned = (urlKey: string, shaKey: string, defaultUrl?: string, required = true) => {
    const example = "https://example.org/image";
    const url = defaultUrl
      ? r.string(urlKey, { check: httpUrl, example, default: defaultUrl })!
      : required
        ? r.string(urlKey, { required: true, example, check: httpUrl })
        : r.string(urlKey, { check: httpUrl, example });
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
  if (!core0Initrd && r.isSet("core0InitrdSha256"))
    r.add(
      "core0InitrdSha256",
      "is set but core0InitrdUrl is not",
      "set g8os:core0InitrdUrl, or remove the digest",
    );
  const flags =
    r.list("core0KernelFlags", {
      example: ["development"],
      check: (f) =>
        typeof f === "string" && /^[a-z][a-z0-9_.-]*(=[A-Za-z0-9_.:/-]+)?$/.test(f)
          ? undefined
          : "must be one word or key=value without spaces",
    }) ?? [];
  const base = parseIPv4(hostZtIp) === undefined ? "0.0.0.0" : hostZtIp;
  const fixed = (key: string, offset: number) => {
    const ip = r.string(key, { example: "10.147.17.5", default: offsetIPv4(base, offset) })!;
    checkFixedAddress(r, key, ip, zerotier);
    return ip;
  };
  const core0Set = r.list("core0ZerotierIps", { example: ["10.147.17.3", "10.147.17.4"] });
  const core0List = core0Set ?? VM_ADDRESS_OFFSETS.core0.map((o) => offsetIPv4(base, o));
  if (core0List.length !== 2)
    r.add(
      "core0ZerotierIps",
      `lists ${core0List.length} address${core0List.length === 1 ? "" : "es"}; there are 2 core0 nodes`,
      'list exactly 2 addresses, e.g. ["10.147.17.3", "10.147.17.4"]',
    );
  core0List.forEach((ip, i) => checkFixedAddress(r, `core0ZerotierIps[${i}]`, ip, zerotier));
  const settings: VmSettings = {
    image,
    core0Kernel,
    core0Initrd,
    core0KernelFlags: flags,
    buildNodeZerotierIp: fixed("buildNodeZerotierIp", VM_ADDRESS_OFFSETS.buildNode),
    core0ZerotierIps: [core0List[0] ?? "", core0List[1] ?? ""],
    cockpitZerotierIp: fixed("cockpitZerotierIp", VM_ADDRESS_OFFSETS.cockpit),
    core0VerifyRedis:
      r.string("core0VerifyRedis", { check: booleanText, example: "true", default: "false" }) === "true",
    kvmDomainType: "auto",
  };
  const dt = r.string("kvmDomainType", { default: "auto" })!;
  if (dt === "auto" || dt === "kvm" || dt === "qemu") settings.kvmDomainType = dt;
  else r.add("kvmDomainType", `is "${dt}"`, 'use "auto", "kvm" or "qemu"');
  // Each machine's address, under the key that set it (or that its default comes from).
  const all: [string, string][] = [
    ["buildHostZerotierIp", hostZtIp],
    ["buildNodeZerotierIp", settings.buildNodeZerotierIp],
    ...core0List.map((ip, i): [string, string] => [`core0ZerotierIps[${i}]`, ip]),
    ["cockpitZerotierIp", settings.cockpitZerotierIp],
  ];
  all.forEach(([key, ip], i) => {
    const first = all.findIndex(([, other]) => other === ip);
    if (first < i)
      r.add(key, `${ip} is also the address of ${all[first][0]}`, "give each machine its own fixed address");
  });
  return settings;
}

/** Ubuntu 24.04 (noble); its sha256 must be configured (g8os:vmImageSha256). */
export const DEFAULT_UBUNTU_IMAGE_URL =
  "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img";

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

/** Parses `start-end` pools and checks each lies inside a route and overlaps no other pool. */
function parsePools(r: ConfigReader, pools: string[], routes: string[]): { start: string; end: string }[] {
  const out: { start: string; end: string; i: number; a: number; b: number }[] = [];
  pools.forEach((p, i) => {
    const key = `zerotierPools[${i}]`;
    const [start, end, extra] = p.split("-").map((s) => s.trim());
    const a = start ? parseIPv4(start) : undefined;
    const b = end ? parseIPv4(end) : undefined;
    if (extra !== undefined || a === undefined || b === undefined) {
      r.add(key, `"${p}" is not a pool`, 'use "<first IP>-<last IP>", e.g. "10.147.17.10-10.147.17.250"');
      return;
    }
    if (a > b) {
      r.add(key, `"${p}" starts after it ends`, "swap the two addresses");
      return;
    }
    if (routes.length > 0 && !inAnyRoute(a, b, routes))
      r.add(
        key,
        `"${p}" is not inside any of zerotierRoutes (${routes.join(", ")})`,
        "add a route that contains it, or move the pool inside a route",
      );
    const other = out.find((o) => a <= o.b && o.a <= b);
    if (other)
      r.add(
        key,
        `"${p}" overlaps zerotierPools[${other.i}] (${other.start}-${other.end})`,
        "make the pools disjoint (or merge them into one)",
      );
    out.push({ start, end, i, a, b });
  });
  return out.map(({ start, end }) => ({ start, end }));
}

/** A Telegram chat id: a number (groups are negative) or a public @channelname. */
const telegramChat: Validator = (v) =>
  typeof v === "string" && /^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$/.test(v)
    ? undefined
    : "is not a Telegram chat id (a number like -1001234567890, or @channelname)";

/** A login name as Linux accepts it (useradd's default NAME_REGEX, plus upper case). */
const unixUser: Validator = (v) =>
  noSurroundingSpaces(v) ??
  (typeof v === "string" && /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(v)
    ? undefined
    : "is not a user name (letters, digits, '_', '.', '-'; starts with a letter or '_')");

/** A user name of a keys-url source: one path segment, no blanks around it. */
const keysUser: Validator = (v) =>
  noSurroundingSpaces(v) ??
  (typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,98}$/.test(v)
    ? undefined
    : "is not a user name (letters, digits, '_', '.', '-')");

/** Reads a whole number of seconds (or another bounded integer) into `set`, or reports the key. */
function bounded(
  r: ConfigReader,
  key: string,
  min: number,
  max: number,
  what: string,
  example: number,
  set: (n: number) => void,
): void {
  const raw = r.string(key, { example: String(example) });
  // 0 is the schema's "unset" default (every bound here starts above 0): the program's own applies.
  if (raw === undefined || raw.trim() === "" || raw.trim() === "0") return;
  const n = Number(raw);
  if (intInRange(min, max)(n))
    r.add(
      key,
      `is ${JSON.stringify(raw)}; ${what} must be a whole number from ${min} to ${max}`,
      `\`pulumi config set g8os:${key} ${example}\``,
    );
  else set(n);
}

/** Reads and validates the build stack's config; throws one ConfigError listing every problem. */
export function readBuildConfig(envNumber: number): BuildConfig {
  const r = new ConfigReader();
  r.checkUnknownKeys();

  const telegram: TelegramSettings = {
    botToken: r.secret("telegramBotToken", {
      required: true,
      what: "Telegram bot token",
      // Bot API tokens are <bot id>:<35 chars> (core.telegram.org/bots/api#authorizing-your-bot).
      check: (v) =>
        typeof v === "string" && /^\d+:[A-Za-z0-9_-]{10,}$/.test(v.trim())
          ? undefined
          : "does not look like a bot token (<bot id>:<secret>, as @BotFather prints it)",
    }),
    chatId:
      r.string("telegramChatId", { required: true, example: "-1001234567890", check: telegramChat }) ?? "",
    topicId: undefined,
    apiRoot: r.string("telegramApiRoot", {
      check: httpUrl,
      example: "https://api.telegram.org",
      default: "https://api.telegram.org",
    })!,
  };
  bounded(
    r,
    "telegramTopicId",
    1,
    2 ** 31,
    "the forum topic's message_thread_id",
    2,
    (n) => (telegram.topicId = n),
  );

  const backend = r.string("zerotierBackend", { default: "central" })!;
  if (backend !== "central" && backend !== "controller")
    r.add("zerotierBackend", `is "${backend}"`, 'use "central" or "controller"');
  const routes = r.list("zerotierRoutes", { example: ["10.147.17.0/24"], check: cidr }) ?? ["10.147.17.0/24"];
  if (routes.length === 0)
    r.add("zerotierRoutes", "is an empty list", 'list at least one CIDR, e.g. ["10.147.17.0/24"]');
  const zerotier: ZerotierSettings = {
    backend: backend === "controller" ? "controller" : "central",
    apiUrl: r.string("zerotierApiUrl", {
      check: httpUrl,
      example: "https://api.zerotier.com/api/v1",
      default: "https://api.zerotier.com/api/v1",
    })!,
    token: r.secret("zerotierToken", { required: true, what: "ZeroTier API token", check: nonEmptyString }),
    networkName: r.string("zerotierNetworkName", {
      check: (v) => noSurroundingSpaces(v),
      default: `g8os-build-${envNumber}`,
    })!,
    pools: [],
    routes,
  };
  bounded(r, "zerotierTimeoutSec", 5, 3600, "seconds", 120, (n) => (zerotier.timeoutSec = n));
  const pools = r.list("zerotierPools", { example: ["10.147.17.10-10.147.17.250"] });
  zerotier.pools = parsePools(
    r,
    pools ?? ["10.147.17.10-10.147.17.250"],
    routes.filter((c) => !cidr(c)),
  );
  if (pools && pools.length === 0)
    r.add("zerotierPools", "is an empty list", 'list at least one pool, e.g. ["10.147.17.10-10.147.17.250"]');

  const source = r.string("keySource", { default: "itsyouonline" })!;
  const inline =
    r.list("keyInline", { example: ["ssh-ed25519 AAAA... alice@laptop"], check: opensshPublicKey(2048) }) ??
    [];
  let keySource: KeySourceSettings;
  if (source === "itsyouonline") {
    keySource = {
      kind: "itsyouonline",
      baseUrl: r.string("keySourceUrl", {
        check: httpUrl,
        example: "https://itsyou.online",
        default: "https://itsyou.online",
      })!,
      organization: r.string("keyOrganization", {
        check: itsyouonlineOrganization,
        example: "gig_build",
        default: "gig_build",
      })!,
      clientId:
        r.string("itsyouonlineClientId", {
          required: true,
          example: "<client id>",
          check: noSurroundingSpaces,
        }) ?? "",
      clientSecret: r.secret("itsyouonlineClientSecret", {
        required: true,
        what: "ItsYou.online client secret",
      }),
      extraKeys: inline,
    };
  } else if (source === "keys-url") {
    const users = r.list("keyUsers", { example: ["alice", "bob"], check: keysUser }) ?? [];
    if (users.length === 0)
      r.add(
        "keyUsers",
        "must list at least one user for keySource keys-url",
        `\`pulumi config set g8os:keyUsers '["alice", "bob"]'\``,
      );
    keySource = {
      kind: "keys-url",
      baseUrl:
        r.string("keySourceUrl", { required: true, example: "https://github.com", check: httpUrl }) ?? "",
      users,
      extraKeys: inline,
    };
  } else if (source === "inline") {
    if (inline.length === 0 && !r.isSet("keyInline"))
      r.add(
        "keyInline",
        "must list at least one public key for keySource inline",
        `\`pulumi config set g8os:keyInline '["ssh-ed25519 AAAA... alice@laptop"]'\``,
      );
    keySource = { kind: "inline", keys: inline };
  } else {
    r.add("keySource", `is "${source}"`, 'use "itsyouonline", "keys-url" or "inline"');
    keySource = { kind: "inline", keys: inline };
  }

  // The host's fixed ZeroTier address: default the first address of the first route, which the
  // default pool leaves free (fixed addresses must stay outside the auto-assign pools).
  const firstRoute = routes.find((c) => !cidr(c));
  const defaultZtIp = firstRoute ? ipv4FromNumber((parseIPv4(firstRoute.split("/")[0])! >>> 0) + 1) : "";
  const hostZtIp = r.string("buildHostZerotierIp", { example: "10.147.17.1", default: defaultZtIp })!;
  if (hostZtIp) checkFixedAddress(r, "buildHostZerotierIp", hostZtIp, zerotier);
  let port = 22;
  bounded(r, "buildHostPort", 1, 65535, "a TCP port", 22, (n) => (port = n));
  const buildHost: BuildHostSettings = {
    name: r.string("buildHostName", { required: true, example: "ovh4", check: hostname }) ?? "",
    zerotierIp: hostZtIp,
    address: r.string("buildHostAddress", { required: true, example: "203.0.113.10", check: hostname }) ?? "",
    port,
    user: r.string("buildHostUser", { default: "root", example: "root", check: unixUser })!,
    hostKeySha256: r.string("buildHostKeySha256", {
      example: "SHA256:<43 base64 chars>",
      check: (v) =>
        typeof v === "string" && /^SHA256:[A-Za-z0-9+/]{43}$/.test(v)
          ? undefined
          : "must look like SHA256:<43 base64 chars> (ssh-keygen -lf output)",
    }),
    bootstrapPrivateKey: r.secret("bootstrapPrivateKey", {
      required: true,
      what: "SSH private key for the physical host",
      check: unencryptedPrivateKey,
    }),
    zerotierInstallCommand: r.string("zerotierInstallCommand", { check: nonEmptyString }),
  };
  bounded(
    r,
    "firewallConfirmTimeoutSec",
    10,
    3600,
    "seconds",
    90,
    (n) => (buildHost.firewallConfirmTimeoutSec = n),
  );

  const vms = readVmConfig(r, zerotier, hostZtIp);
  const buildRuns = readBuildRunSettings(r);
  if (buildRuns && !vms) {
    r.add(
      "buildTreeDir",
      "is set but the VMs are off: build runs need the build node and core0 nodes",
      "`pulumi config set g8os:vmsEnabled true`",
    );
  }

  r.done();
  return { envNumber, telegram, zerotier, keySource, buildHost, vms, buildRuns };
}
