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
  sshPublicKey,
} from "../providers/shared/validate";
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

export interface BuildConfig {
  envNumber: number;
  telegram: TelegramSettings;
  zerotier: ZerotierSettings;
  keySource: KeySourceSettings;
  buildHost: BuildHostSettings;
}

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
  };

  r.done();
  return { envNumber, telegram, zerotier, keySource, buildHost };
}
