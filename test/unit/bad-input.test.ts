/**
 * Bad input, refused at preview (issue #12, section 2). Each case breaks one config key, one
 * build-tree field or one grid-file field of a configuration that is otherwise valid (the controls
 * below prove the bases are valid), runs the real program under `pulumi.runtime.setMocks` as a
 * preview, and asserts:
 *  - the program threw one `pulumi.RunError` (the CLI prints it without a stack trace),
 *  - no resource was registered,
 *  - a problem line names the key or file, the field, what is wrong and a fix (`Fix: ...`),
 *  - no line names an internal input path (`connection.privateKeys[1]`) or echoes a secret.
 * All runs share one child process (run-stack.ts runStacksUnderMocks) to keep the suite fast.
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { APP_FIELDS, APP_KEYS } from "../../workflows/app-tree";
import { schemaKeys } from "../../stacks/config-reader";
import { runStacksUnderMocks, type BatchRun, type StackRun } from "./run-stack";
import { fakeOpensshPrivateKey, validBuildConfig, vmConfig } from "./fixtures";

type Cfg = Record<string, string | { secret: string }>;
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const GOOD_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxpRmkq1e8x8pt4iIhBPg6w9kJh6zV+q7dK0P5c7V8z alice@example";

/** SSH wire string (RFC 4253 s5). */
function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/** An ssh-rsa public key line of `bits` bits, built from a fresh RSA key (RFC 4253 s6.6 layout). */
function rsaKeyLine(bits: number): string {
  const jwk = crypto.generateKeyPairSync("rsa", { modulusLength: bits }).publicKey.export({ format: "jwk" });
  const mpint = (b64u: string) => {
    const b = Buffer.from(b64u, "base64url");
    return sshString(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
  };
  const blob = Buffer.concat([sshString(Buffer.from("ssh-rsa")), mpint(jwk.e!), mpint(jwk.n!)]);
  return `ssh-rsa ${blob.toString("base64")} bob@old`;
}

/** The good key with its blob cut short (a truncated paste that is still valid base64). */
const TRUNCATED_KEY = (() => {
  const blob = Buffer.from(GOOD_KEY.split(" ")[1], "base64").subarray(0, 40);
  return `ssh-ed25519 ${blob.toString("base64")} alice@example`;
})();

const work = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-bad-input-"));
const GRID_FILE = path.join(work, "grid.yaml");
const TREE_DIR = path.join(work, "tree");
const APP_SRC = path.join(__dirname, "..", "build", "fixtures", "apps", "hello-sh");

function goodGrid(): Doc {
  return {
    network: "8056c2e21c000001",
    routes: ["10.147.17.0/24"],
    nodes: [
      { name: "node1", address: "10.147.17.3", port: 6379, memoryMb: 4096, cpu: 4 },
      { name: "node2", address: "10.147.17.4" },
    ],
    apps: [
      {
        name: "redis",
        node: "node1",
        plist: "http://10.147.17.2:8080/ipfs/bafyx/redis/plist",
        memoryMb: 256,
        cpu: 1,
        ports: { "6379": 6379 },
        env: { MODE: "test" },
        processes: [
          {
            name: "/usr/bin/redis-server",
            args: ["--port", "6379"],
            dir: "/",
            env: { X: "y" },
            oneshot: false,
          },
        ],
      },
    ],
  };
}

function goodApp(): Doc {
  return {
    name: "hello-sh",
    source: { path: APP_SRC },
    build: { steps: ["mkdir -p out", { name: "copy", run: "cp hello.sh out/hello-sh", timeoutSeconds: 60 }] },
    outputs: [{ from: "out/hello-sh", to: "/usr/bin/hello-sh", mode: "0755" }],
    processes: [{ name: "main", args: ["/bin/sh", "/usr/bin/hello-sh"], env: { MODE: "test" }, cwd: "/" }],
    tests: [
      {
        name: "pong",
        process: "main",
        command: "hello-sh ping",
        expectOutput: "^pong$",
        expectExitCode: 0,
        timeoutSeconds: 10,
      },
    ],
    resources: { memoryMb: 8, cpu: 1 },
    templates: ["apps/hello-sh"],
    branches: ["master"],
  };
}

const RUN_CONFIG: Cfg = {
  "g8os:buildTreeDir": TREE_DIR,
  "g8os:ipfsApiUrl": "http://10.147.17.2:5001",
  "g8os:ipfsGatewayUrl": "http://10.147.17.2:8080",
  "g8os:templatesRepoUrl": "ssh://git@10.147.17.2/gig/ays_templates.git",
  "g8os:templatesBranches": JSON.stringify(["master"]),
  "g8os:templatesKnownHosts": `10.147.17.2 ${GOOD_KEY}`,
};

const BASES: Record<string, () => { stack: string; config: Cfg }> = {
  build: () => ({ stack: "build-1", config: validBuildConfig() }),
  itsyou: () => {
    const c = validBuildConfig();
    delete c["g8os:keySource"];
    return {
      stack: "build-1",
      config: {
        ...c,
        "g8os:itsyouonlineClientId": "g8os-ci",
        "g8os:itsyouonlineClientSecret": { secret: "iyo-secret-1" },
      },
    };
  },
  keysurl: () => ({
    stack: "build-1",
    config: {
      ...validBuildConfig(),
      "g8os:keySource": "keys-url",
      "g8os:keySourceUrl": "https://github.com",
      "g8os:keyUsers": JSON.stringify(["alice"]),
    },
  }),
  vms: () => ({ stack: "build-1", config: { ...validBuildConfig(), ...vmConfig() } }),
  runs: () => ({ stack: "build-1", config: { ...validBuildConfig(), ...vmConfig(), ...RUN_CONFIG } }),
  grid: () => ({
    stack: "grid-1",
    config: { "g8os:gridRedisPassword": { secret: "grid-redis-pw" }, "g8os:gridFile": GRID_FILE },
  }),
};

interface Case {
  /** What is wrong, in words. */
  what: string;
  base: keyof typeof BASES;
  /** Config changes: a value, or null to remove the key. */
  set?: Record<string, string | { secret: string } | null>;
  /** Changes to the grid file (base grid) or the one app file (base runs). */
  grid?: (g: Doc) => void;
  gridText?: string;
  app?: (a: Doc) => void;
  /** `g8os:<key>` for config problems; the file name for file problems. */
  where: string;
  /** The file field the problem names (file problems), e.g. `nodes[0].address`. */
  field?: string;
  /** What the problem line must say. */
  says: RegExp;
  /** Further problems that must be in the same report (one bad key hides no other). */
  also?: { where: string; says: RegExp }[];
  /** A secret the message must never show. */
  secret?: string;
}

const g8 = (k: string) => `g8os:${k}`;
const J = JSON.stringify;

const CASES: Case[] = [
  // --- stack selection ---
  {
    what: "envNumber not a number",
    base: "build",
    set: { "g8os:envNumber": "abc" },
    where: g8("envNumber"),
    says: /not a whole number/,
  },
  {
    what: "envNumber disagrees with the stack name",
    base: "build",
    set: { "g8os:envNumber": "2" },
    where: g8("envNumber"),
    says: /g8os:envNumber is 2/,
  },
  // --- Telegram ---
  {
    what: "bot token in plain text",
    base: "build",
    set: { "g8os:telegramBotToken": "123456:PLAIN-token-abcdef" },
    where: g8("telegramBotToken"),
    says: /stored in plain text/,
    secret: "PLAIN-token-abcdef",
  },
  {
    what: "bot token malformed",
    base: "build",
    set: { "g8os:telegramBotToken": { secret: "not-a-token-zz9" } },
    where: g8("telegramBotToken"),
    says: /does not look like a bot token/,
    secret: "not-a-token-zz9",
  },
  {
    what: "chat id is a name",
    base: "build",
    set: { "g8os:telegramChatId": "general" },
    where: g8("telegramChatId"),
    says: /not a Telegram chat id/,
  },
  {
    what: "chat id empty",
    base: "build",
    set: { "g8os:telegramChatId": "" },
    where: g8("telegramChatId"),
    says: /is required/,
  },
  {
    what: "topic id zero",
    base: "build",
    set: { "g8os:telegramTopicId": "-5" },
    where: g8("telegramTopicId"),
    says: /whole number from 1/,
  },
  {
    what: "API root not http",
    base: "build",
    set: { "g8os:telegramApiRoot": "ftp://api.telegram.org" },
    where: g8("telegramApiRoot"),
    says: /http\(s\) URL/,
  },
  // --- ZeroTier ---
  {
    what: "unknown backend",
    base: "build",
    set: { "g8os:zerotierBackend": "hosted" },
    where: g8("zerotierBackend"),
    says: /is "hosted"/,
  },
  {
    what: "API URL without scheme",
    base: "build",
    set: { "g8os:zerotierApiUrl": "api.zerotier.com/api/v1" },
    where: g8("zerotierApiUrl"),
    says: /http\(s\) URL/,
  },
  {
    what: "token missing",
    base: "build",
    set: { "g8os:zerotierToken": null },
    where: g8("zerotierToken"),
    says: /is required/,
  },
  {
    what: "token in plain text",
    base: "build",
    set: { "g8os:zerotierToken": "zt-plain-secret-1" },
    where: g8("zerotierToken"),
    says: /stored in plain text/,
    secret: "zt-plain-secret-1",
  },
  {
    what: "network name with spaces",
    base: "build",
    set: { "g8os:zerotierNetworkName": " g8os " },
    where: g8("zerotierNetworkName"),
    says: /leading or trailing spaces/,
  },
  {
    what: "pools and routes as plain strings, both reported",
    base: "build",
    set: { "g8os:zerotierPools": "10.147.17.10-10.147.17.250", "g8os:zerotierRoutes": "10.147.17.0/24" },
    where: g8("zerotierRoutes"),
    says: /plain string "10\.147\.17\.0\/24".*Fix: .*'\["10\.147\.17\.0\/24"\]'/,
    also: [{ where: g8("zerotierPools"), says: /plain string.*'\["10\.147\.17\.10-10\.147\.17\.250"\]'/ }],
  },
  {
    what: "a build-network member without a name",
    base: "build",
    set: { "g8os:buildNetworkMembers": J(["89e92ceee5"]) },
    where: g8("buildNetworkMembers[0]"),
    says: /is not "<node id> <name>".*Fix: write it like "89e92ceee5 alice-laptop"/,
  },
  {
    what: "a build-network member whose node id is 9 hex characters",
    base: "build",
    set: { "g8os:buildNetworkMembers": J(["89e92ceee alice-laptop"]) },
    where: g8("buildNetworkMembers[0]"),
    says: /10 hex characters `zerotier-cli info` prints/,
  },
  {
    what: "a build-network member with a reserved (ff) node id",
    base: "build",
    set: { "g8os:buildNetworkMembers": J(["ff00000001 alice-laptop"]) },
    where: g8("buildNetworkMembers[0]"),
    says: /starts with ff, which ZeroTier reserves/,
  },
  {
    what: "the same machine twice on the build network (ids differ only in case)",
    base: "build",
    set: { "g8os:buildNetworkMembers": J(["89e92ceee5 alice-laptop", "89E92CEEE5 alice-again"]) },
    where: g8("buildNetworkMembers[1]"),
    says: /node id 89e92ceee5 is also buildNetworkMembers\[0\]/,
  },
  {
    what: "a duplicate build-network member after a malformed entry names the right index",
    base: "build",
    set: { "g8os:buildNetworkMembers": J(["not-a-member", "89e92ceee5 alice", "0123456789 alice"]) },
    where: g8("buildNetworkMembers[2]"),
    says: /name alice is also buildNetworkMembers\[1\]/,
    also: [{ where: g8("buildNetworkMembers[0]"), says: /is not "<node id> <name>"/ }],
  },
  {
    what: "two build-network members with one name",
    base: "build",
    set: { "g8os:buildNetworkMembers": J(["89e92ceee5 alice", "0123456789 alice"]) },
    where: g8("buildNetworkMembers[1]"),
    says: /name alice is also buildNetworkMembers\[0\].*Fix: give each machine its own name/,
  },
  {
    what: "overlapping pools",
    base: "build",
    set: { "g8os:zerotierPools": J(["10.147.17.10-10.147.17.100", "10.147.17.50-10.147.17.150"]) },
    where: g8("zerotierPools[1]"),
    says: /overlaps zerotierPools\[0\]/,
  },
  {
    what: "pool not a range",
    base: "build",
    set: { "g8os:zerotierPools": J(["10.147.17.10..10.147.17.20"]) },
    where: g8("zerotierPools[0]"),
    says: /is not a pool/,
  },
  {
    what: "pool outside routes",
    base: "build",
    set: { "g8os:zerotierPools": J(["10.9.0.1-10.9.0.9"]) },
    where: g8("zerotierPools[0]"),
    says: /not inside any of zerotierRoutes/,
  },
  {
    what: "pools an object",
    base: "build",
    set: { "g8os:zerotierPools": J({ start: "10.147.17.10" }) },
    where: g8("zerotierPools"),
    says: /not a list/,
  },
  {
    what: "route with /33",
    base: "build",
    set: { "g8os:zerotierRoutes": J(["10.147.17.0/33"]) },
    where: g8("zerotierRoutes[0]"),
    says: /must be a CIDR/,
  },
  {
    what: "no routes",
    base: "build",
    set: { "g8os:zerotierRoutes": "[]" },
    where: g8("zerotierRoutes"),
    says: /empty list/,
  },
  {
    what: "timeout with a unit",
    base: "build",
    set: { "g8os:zerotierTimeoutSec": "2m" },
    where: g8("zerotierTimeoutSec"),
    says: /whole number from 5 to 3600/,
  },
  // --- keys ---
  {
    what: "unknown key source",
    base: "build",
    set: { "g8os:keySource": "github" },
    where: g8("keySource"),
    says: /is "github"/,
  },
  {
    what: "keys-url base without scheme",
    base: "keysurl",
    set: { "g8os:keySourceUrl": "github.com" },
    where: g8("keySourceUrl"),
    says: /http\(s\) URL/,
  },
  {
    what: "empty organisation (no silent default)",
    base: "itsyou",
    set: { "g8os:keyOrganization": "" },
    where: g8("keyOrganization"),
    says: /is set but empty/,
  },
  {
    what: "malformed organisation",
    base: "itsyou",
    set: { "g8os:keyOrganization": "GIG Build!" },
    where: g8("keyOrganization"),
    says: /not an ItsYou\.online organisation name/,
  },
  {
    what: "organisation with a trailing space",
    base: "itsyou",
    set: { "g8os:keyOrganization": "gig_build " },
    where: g8("keyOrganization"),
    says: /not an ItsYou\.online organisation name/,
  },
  {
    what: "client id missing",
    base: "itsyou",
    set: { "g8os:itsyouonlineClientId": null },
    where: g8("itsyouonlineClientId"),
    says: /is required/,
  },
  {
    what: "client secret in plain text",
    base: "itsyou",
    set: { "g8os:itsyouonlineClientSecret": "iyo-plain-secret" },
    where: g8("itsyouonlineClientSecret"),
    says: /stored in plain text/,
    secret: "iyo-plain-secret",
  },
  {
    what: "user name with surrounding spaces",
    base: "keysurl",
    set: { "g8os:keyUsers": J([" alice"]) },
    where: g8("keyUsers[0]"),
    says: /leading or trailing spaces/,
  },
  {
    what: "no users for keys-url",
    base: "keysurl",
    set: { "g8os:keyUsers": "[]" },
    where: g8("keyUsers"),
    says: /at least one user/,
  },
  {
    what: "users as a plain string",
    base: "keysurl",
    set: { "g8os:keyUsers": "alice,bob" },
    where: g8("keyUsers"),
    says: /plain string.*'\["alice","bob"\]'/,
  },
  {
    what: "truncated public key",
    base: "build",
    set: { "g8os:keyInline": J([TRUNCATED_KEY]) },
    where: g8("keyInline[0]"),
    says: /truncated/,
  },
  {
    what: "1024-bit RSA key",
    base: "build",
    set: { "g8os:keyInline": J([rsaKeyLine(1024)]) },
    where: g8("keyInline[0]"),
    says: /1024-bit RSA key; at least 2048/,
  },
  {
    what: "not a key at all",
    base: "build",
    set: { "g8os:keyInline": J(["hello world"]) },
    where: g8("keyInline[0]"),
    says: /must start with a key type/,
  },
  {
    what: "key list holding a number",
    base: "build",
    set: { "g8os:keyInline": J([GOOD_KEY, 42]) },
    where: g8("keyInline[1]"),
    says: /not a string/,
  },
  {
    what: "inline source without keys",
    base: "build",
    set: { "g8os:keyInline": null },
    where: g8("keyInline"),
    says: /at least one public key/,
  },
  // --- physical host ---
  {
    what: "host name with a space",
    base: "build",
    set: { "g8os:buildHostName": "ovh 4" },
    where: g8("buildHostName"),
    says: /host name/,
  },
  {
    what: "host address missing",
    base: "build",
    set: { "g8os:buildHostAddress": null },
    where: g8("buildHostAddress"),
    says: /is required/,
  },
  {
    what: "port out of range",
    base: "build",
    set: { "g8os:buildHostPort": "70000" },
    where: g8("buildHostPort"),
    says: /TCP port must be a whole number/,
  },
  {
    what: "port a name",
    base: "build",
    set: { "g8os:buildHostPort": "ssh" },
    where: g8("buildHostPort"),
    says: /TCP port must be a whole number/,
  },
  {
    what: "user with a leading space",
    base: "build",
    set: { "g8os:buildHostUser": " root" },
    where: g8("buildHostUser"),
    says: /leading or trailing spaces/,
  },
  {
    what: "host key not SHA256:",
    base: "build",
    set: { "g8os:buildHostKeySha256": "md5:ab:cd" },
    where: g8("buildHostKeySha256"),
    says: /SHA256:<43 base64 chars>/,
  },
  {
    what: "private key in plain text",
    base: "build",
    set: { "g8os:bootstrapPrivateKey": fakeOpensshPrivateKey() },
    where: g8("bootstrapPrivateKey"),
    says: /stored in plain text/,
  },
  {
    what: "public key given as the private key",
    base: "build",
    set: { "g8os:bootstrapPrivateKey": { secret: GOOD_KEY } },
    where: g8("bootstrapPrivateKey"),
    says: /not a PEM\/OpenSSH private key/,
    secret: "AAAAC3NzaC1lZDI1NTE5AAAAIHxpRmkq",
  },
  {
    what: "passphrase-protected private key",
    base: "build",
    set: { "g8os:bootstrapPrivateKey": { secret: fakeOpensshPrivateKey("aes256-ctr") } },
    where: g8("bootstrapPrivateKey"),
    says: /passphrase-protected/,
  },
  {
    what: "private key with mismatched armour",
    base: "build",
    set: {
      "g8os:bootstrapPrivateKey": { secret: fakeOpensshPrivateKey().replace("END OPENSSH", "END RSA") },
    },
    where: g8("bootstrapPrivateKey"),
    says: /different key types/,
  },
  {
    what: "blank install command",
    base: "build",
    set: { "g8os:zerotierInstallCommand": "   " },
    where: g8("zerotierInstallCommand"),
    says: /is set but empty/,
  },
  {
    what: "dead-man switch too short",
    base: "build",
    set: { "g8os:firewallConfirmTimeoutSec": "5" },
    where: g8("firewallConfirmTimeoutSec"),
    says: /whole number from 10 to 3600/,
  },
  {
    what: "host IP inside a pool",
    base: "build",
    set: { "g8os:buildHostZerotierIp": "10.147.17.20" },
    where: g8("buildHostZerotierIp"),
    says: /inside zerotierPools\[0\]/,
  },
  {
    what: "host IP outside the routes",
    base: "build",
    set: { "g8os:buildHostZerotierIp": "10.9.9.9" },
    where: g8("buildHostZerotierIp"),
    says: /not inside any of zerotierRoutes/,
  },
  {
    what: "host IP a name",
    base: "build",
    set: { "g8os:buildHostZerotierIp": "ovh4" },
    where: g8("buildHostZerotierIp"),
    says: /not an IPv4 address/,
  },
  // --- VMs ---
  {
    what: "vmsEnabled yes",
    base: "vms",
    set: { "g8os:vmsEnabled": "yes" },
    where: g8("vmsEnabled"),
    says: /true or false/,
  },
  {
    what: "image URL a file path",
    base: "vms",
    set: { "g8os:vmImageUrl": "/var/lib/img.qcow2" },
    where: g8("vmImageUrl"),
    says: /http\(s\) URL/,
  },
  {
    what: "image digest upper case",
    base: "vms",
    set: { "g8os:vmImageSha256": "A".repeat(64) },
    where: g8("vmImageSha256"),
    says: /64 lowercase hex/,
  },
  {
    what: "kernel URL missing (pins.yaml leaves it required)",
    base: "vms",
    set: { "g8os:core0KernelUrl": null },
    where: "pins.yaml",
    field: "core0Kernel",
    says: /url: is not pinned .*g8os:core0KernelUrl/,
  },
  {
    what: "kernel URL a file path",
    base: "vms",
    set: { "g8os:core0KernelUrl": "/boot/vmlinuz.efi" },
    where: g8("core0KernelUrl"),
    says: /http\(s\) URL/,
  },
  {
    what: "pins override with a short digest",
    base: "vms",
    set: { "g8os:pins": J({ ubuntuImage: { sha256: "abc" } }) },
    where: g8("pins"),
    says: /ubuntuImage: sha256: "abc" must be a sha256 digest/,
  },
  {
    what: "pins override not JSON",
    base: "build",
    set: { "g8os:pins": "ubuntuImage.sha256=abc" },
    where: g8("pins"),
    says: /is not JSON/,
  },
  {
    what: "kernel digest short",
    base: "vms",
    set: { "g8os:core0KernelSha256": "abc" },
    where: g8("core0KernelSha256"),
    says: /64 lowercase hex/,
  },
  {
    what: "initrd URL not a URL",
    base: "vms",
    set: { "g8os:core0InitrdUrl": "initrd.img", "g8os:core0InitrdSha256": "c".repeat(64) },
    where: g8("core0InitrdUrl"),
    says: /http\(s\) URL/,
  },
  {
    what: "initrd digest without URL",
    base: "vms",
    set: { "g8os:core0InitrdSha256": "c".repeat(64) },
    where: g8("core0InitrdSha256"),
    says: /core0InitrdUrl is not/,
  },
  {
    what: "kernel flag with a space",
    base: "vms",
    set: { "g8os:core0KernelFlags": J(["organization=x y"]) },
    where: g8("core0KernelFlags[0]"),
    says: /one word or key=value/,
  },
  {
    what: "kernel flags a plain string",
    base: "vms",
    set: { "g8os:core0KernelFlags": "development" },
    where: g8("core0KernelFlags"),
    says: /plain string.*'\["development"\]'/,
  },
  {
    what: "verify flag 1",
    base: "vms",
    set: { "g8os:core0VerifyRedis": "1" },
    where: g8("core0VerifyRedis"),
    says: /true or false/,
  },
  {
    what: "build node on the host's address",
    base: "vms",
    set: { "g8os:buildNodeZerotierIp": "10.147.17.1" },
    where: g8("buildNodeZerotierIp"),
    says: /also the address of buildHostZerotierIp/,
  },
  {
    what: "the two core0 nodes on one address",
    base: "vms",
    set: { "g8os:core0ZerotierIps": J(["10.147.17.3", "10.147.17.3"]) },
    where: g8("core0ZerotierIps[1]"),
    says: /also the address of core0ZerotierIps\[0\]/,
  },
  {
    what: "one core0 address",
    base: "vms",
    set: { "g8os:core0ZerotierIps": J(["10.147.17.3"]) },
    where: g8("core0ZerotierIps"),
    says: /lists 1 address; there are 2/,
  },
  {
    what: "cockpit inside a pool",
    base: "vms",
    set: { "g8os:cockpitZerotierIp": "10.147.17.20" },
    where: g8("cockpitZerotierIp"),
    says: /inside zerotierPools\[0\]/,
  },
  {
    what: "domain type xen",
    base: "vms",
    set: { "g8os:kvmDomainType": "xen" },
    where: g8("kvmDomainType"),
    says: /is "xen"/,
  },
  // --- build runs ---
  {
    what: "tree directory missing",
    base: "runs",
    set: { "g8os:buildTreeDir": path.join(work, "nope") },
    where: g8("buildTreeDir"),
    field: "(directory)",
    says: /does not exist/,
  },
  {
    what: "tree without VMs",
    base: "build",
    set: { ...RUN_CONFIG },
    where: g8("buildTreeDir"),
    says: /VMs are off/,
  },
  {
    what: "blank run id",
    base: "runs",
    set: { "g8os:buildRunId": " " },
    where: g8("buildRunId"),
    says: /is set but empty/,
  },
  {
    what: "IPFS API without scheme",
    base: "runs",
    set: { "g8os:ipfsApiUrl": "10.147.17.2:5001" },
    where: g8("ipfsApiUrl"),
    says: /http\(s\) URL/,
  },
  {
    what: "gateway URL ending in /ipfs/",
    base: "runs",
    set: { "g8os:ipfsGatewayUrl": "http://10.147.17.2:8080/ipfs/" },
    where: g8("ipfsGatewayUrl"),
    says: /ends in \/ipfs\//,
  },
  {
    what: "templates repo over https",
    base: "runs",
    set: { "g8os:templatesRepoUrl": "https://github.com/gig/ays_templates" },
    where: g8("templatesRepoUrl"),
    says: /not an SSH git URL/,
  },
  {
    what: "branches a plain string",
    base: "runs",
    set: { "g8os:templatesBranches": "master" },
    where: g8("templatesBranches"),
    says: /plain string.*'\["master"\]'/,
  },
  {
    what: "branch with ..",
    base: "runs",
    set: { "g8os:templatesBranches": J(["master", "a..b"]) },
    where: g8("templatesBranches[1]"),
    says: /not a git branch name/,
  },
  {
    what: "known_hosts without a key",
    base: "runs",
    set: { "g8os:templatesKnownHosts": "git.example.com" },
    where: g8("templatesKnownHosts"),
    says: /line 1 is not/,
  },
  {
    what: "known_hosts with a truncated key",
    base: "runs",
    set: { "g8os:templatesKnownHosts": `git.example.com ${TRUNCATED_KEY}` },
    where: g8("templatesKnownHosts"),
    says: /line 1 key body is truncated/,
  },
  // --- grid config ---
  {
    what: "grid password missing",
    base: "grid",
    set: { "g8os:gridRedisPassword": null },
    where: g8("gridRedisPassword"),
    says: /is required/,
  },
  {
    what: "grid password in plain text",
    base: "grid",
    set: { "g8os:gridRedisPassword": "grid-plain-pw" },
    where: g8("gridRedisPassword"),
    says: /stored in plain text/,
    secret: "grid-plain-pw",
  },
  {
    what: "grid file missing",
    base: "grid",
    set: { "g8os:gridFile": path.join(work, "none.yaml") },
    where: "none.yaml",
    field: "",
    says: /cannot be read/,
  },
  {
    what: "grid file path empty",
    base: "grid",
    set: { "g8os:gridFile": "  " },
    where: g8("gridFile"),
    says: /is set but empty/,
  },
  // --- unknown keys ---
  {
    what: "typo'd build key",
    base: "build",
    set: { "g8os:zerotierRoute": J(["10.147.17.0/24"]) },
    where: g8("zerotierRoute"),
    says: /did you mean g8os:zerotierRoutes\?/,
  },
  {
    what: "typo'd grid key",
    base: "grid",
    set: { "g8os:gridfile": "grid/grid-1.yaml" },
    where: g8("gridfile"),
    says: /did you mean g8os:gridFile\?/,
  },
  {
    what: "key of no kind",
    base: "build",
    set: { "g8os:colour": "blue" },
    where: g8("colour"),
    says: /is not a g8os setting/,
  },
  // --- grid file ---
  {
    what: "network not 16 hex",
    base: "grid",
    grid: (g) => (g.network = "xyz"),
    where: "grid.yaml",
    field: "network",
    says: /not a ZeroTier network id/,
  },
  {
    what: "route with /40",
    base: "grid",
    grid: (g) => (g.routes = ["10.147.17.0/40"]),
    where: "grid.yaml",
    field: "routes[0]",
    says: /must be a CIDR/,
  },
  {
    what: "no nodes",
    base: "grid",
    grid: (g) => delete g.nodes,
    where: "grid.yaml",
    field: "nodes",
    says: /missing or empty/,
  },
  {
    what: "node name with upper case",
    base: "grid",
    grid: (g) => (g.nodes[0].name = "Node1"),
    where: "grid.yaml",
    field: "nodes[0].name",
    says: /not a valid name/,
  },
  {
    what: "node outside the management network",
    base: "grid",
    grid: (g) => (g.nodes[1].address = "10.9.0.4"),
    where: "grid.yaml",
    field: "nodes[1].address",
    says: /outside the management network/,
  },
  {
    what: "node address a bad host",
    base: "grid",
    grid: (g) => (g.nodes[0].address = "node one"),
    where: "grid.yaml",
    field: "nodes[0].address",
    says: /not an address/,
  },
  {
    what: "node port 0",
    base: "grid",
    grid: (g) => (g.nodes[0].port = 0),
    where: "grid.yaml",
    field: "nodes[0].port",
    says: /not a port/,
  },
  {
    what: "node memory a word",
    base: "grid",
    grid: (g) => (g.nodes[0].memoryMb = "lots"),
    where: "grid.yaml",
    field: "nodes[0].memoryMb",
    says: /not a whole number/,
  },
  {
    what: "node cpu negative",
    base: "grid",
    grid: (g) => (g.nodes[0].cpu = -1),
    where: "grid.yaml",
    field: "nodes[0].cpu",
    says: /not a whole number/,
  },
  {
    what: "node key typo",
    base: "grid",
    grid: (g) => (g.nodes[1].adress = "10.147.17.4"),
    where: "grid.yaml",
    field: "nodes[1].adress",
    says: /did you mean address\?/,
  },
  {
    what: "top-level key typo",
    base: "grid",
    grid: (g) => ((g.app = g.apps), delete g.apps),
    where: "grid.yaml",
    field: "app",
    says: /did you mean apps\?/,
  },
  {
    what: "app key typo",
    base: "grid",
    grid: (g) => (g.apps[0].memory = 64),
    where: "grid.yaml",
    field: "apps[0].memory",
    says: /did you mean memoryMb\?/,
  },
  {
    what: "process key typo",
    base: "grid",
    grid: (g) => (g.apps[0].processes[0].arg = []),
    where: "grid.yaml",
    field: "apps[0].processes[0].arg",
    says: /did you mean args\?/,
  },
  {
    what: "two apps with one name",
    base: "grid",
    grid: (g) => g.apps.push({ ...g.apps[0], memoryMb: 1, cpu: 1 }),
    where: "grid.yaml",
    field: "apps[1].name",
    says: /used twice/,
  },
  {
    what: "app on an unknown node",
    base: "grid",
    grid: (g) => (g.apps[0].node = "node9"),
    where: "grid.yaml",
    field: "apps[0].node",
    says: /not a node of this grid/,
  },
  {
    what: "plist over ftp",
    base: "grid",
    grid: (g) => (g.apps[0].plist = "ftp://x/plist"),
    where: "grid.yaml",
    field: "apps[0].plist",
    says: /not a plist URL/,
  },
  {
    what: "app needs more memory than its node has",
    base: "grid",
    grid: (g) => (g.apps[0].memoryMb = 8192),
    where: "grid.yaml",
    field: "apps[0].memoryMb",
    says: /needs 8192 but node node1 has 4096/,
  },
  {
    what: "app needs more CPUs than its node has",
    base: "grid",
    grid: (g) => (g.apps[0].cpu = 8),
    where: "grid.yaml",
    field: "apps[0].cpu",
    says: /needs 8 but node node1 has 4/,
  },
  {
    what: "apps together overflow a node",
    base: "grid",
    grid: (g) => g.apps.push({ ...g.apps[0], name: "big", memoryMb: 4000 }),
    where: "grid.yaml",
    field: "apps[1].memoryMb",
    says: /3840 of 4096 left/,
  },
  {
    what: "app memory a string",
    base: "grid",
    grid: (g) => (g.apps[0].memoryMb = "256M"),
    where: "grid.yaml",
    field: "apps[0].memoryMb",
    says: /not a whole number/,
  },
  {
    what: "host port out of range",
    base: "grid",
    grid: (g) => (g.apps[0].ports = { "70000": 80 }),
    where: "grid.yaml",
    field: "apps[0].ports.70000",
    says: /host port: container port/,
  },
  {
    what: "app env with a number",
    base: "grid",
    grid: (g) => (g.apps[0].env = { PORT: 80 }),
    where: "grid.yaml",
    field: "apps[0].env",
    says: /mapping of strings/,
  },
  {
    what: "app without processes",
    base: "grid",
    grid: (g) => (g.apps[0].processes = []),
    where: "grid.yaml",
    field: "apps[0].processes",
    says: /missing or empty/,
  },
  {
    what: "process without a name",
    base: "grid",
    grid: (g) => delete g.apps[0].processes[0].name,
    where: "grid.yaml",
    field: "apps[0].processes[0].name",
    says: /is missing/,
  },
  {
    what: "process args a string",
    base: "grid",
    grid: (g) => (g.apps[0].processes[0].args = "--port 6379"),
    where: "grid.yaml",
    field: "apps[0].processes[0].args",
    says: /list of strings/,
  },
  {
    what: "process dir relative",
    base: "grid",
    grid: (g) => (g.apps[0].processes[0].dir = "data"),
    where: "grid.yaml",
    field: "apps[0].processes[0].dir",
    says: /absolute path/,
  },
  {
    what: "process env with a number",
    base: "grid",
    grid: (g) => (g.apps[0].processes[0].env = { N: 1 }),
    where: "grid.yaml",
    field: "apps[0].processes[0].env",
    says: /mapping of strings/,
  },
  {
    what: "oneshot yes",
    base: "grid",
    grid: (g) => (g.apps[0].processes[0].oneshot = "yes"),
    where: "grid.yaml",
    field: "apps[0].processes[0].oneshot",
    says: /not true or false/,
  },
  {
    what: "grid file not YAML",
    base: "grid",
    gridText: "nodes: [\n",
    where: "grid.yaml",
    field: "",
    says: /not valid YAML/,
  },
  // --- build tree (one app file, app.yaml) ---
  {
    what: "app name with a space",
    base: "runs",
    app: (a) => (a.name = "Hello World"),
    where: "app.yaml",
    field: "name",
    says: /not a valid app name/,
  },
  {
    what: "app without source",
    base: "runs",
    app: (a) => delete a.source,
    where: "app.yaml",
    field: "source",
    says: /is missing/,
  },
  {
    what: "source with git and path",
    base: "runs",
    app: (a) => (a.source.git = "https://example.org/x.git"),
    where: "app.yaml",
    field: "source",
    says: /exactly one of git or path/,
  },
  {
    what: "source git empty",
    base: "runs",
    app: (a) => (a.source = { git: "", ref: "master" }),
    where: "app.yaml",
    field: "source.git",
    says: /non-empty string/,
  },
  {
    what: "resources a string",
    base: "runs",
    app: (a) => (a.resources = "lots"),
    where: "app.yaml",
    field: "resources",
    says: /must be a mapping/,
  },
  {
    what: "source path missing",
    base: "runs",
    app: (a) => (a.source.path = "/nonexistent/src"),
    where: "app.yaml",
    field: "source.path",
    says: /does not exist/,
  },
  {
    what: "source key typo",
    base: "runs",
    app: (a) => (a.source.pth = "x"),
    where: "app.yaml",
    field: "source.pth",
    says: /did you mean path\?/,
  },
  {
    what: "source ref with a path",
    base: "runs",
    app: (a) => (a.source.ref = "master"),
    where: "app.yaml",
    field: "source.ref",
    says: /git sources only/,
  },
  {
    what: "no build",
    base: "runs",
    app: (a) => delete a.build,
    where: "app.yaml",
    field: "build",
    says: /is missing/,
  },
  {
    what: "no build steps",
    base: "runs",
    app: (a) => (a.build.steps = []),
    where: "app.yaml",
    field: "build.steps",
    says: /non-empty list/,
  },
  {
    what: "step timeout zero",
    base: "runs",
    app: (a) => (a.build.steps[1].timeoutSeconds = 0),
    where: "app.yaml",
    field: "build.steps[1].timeoutSeconds",
    says: /whole number from 1/,
  },
  {
    what: "step without run",
    base: "runs",
    app: (a) => delete a.build.steps[1].run,
    where: "app.yaml",
    field: "build.steps[1].run",
    says: /is missing/,
  },
  {
    what: "step key typo",
    base: "runs",
    app: (a) => (a.build.steps[1].timeout = 5),
    where: "app.yaml",
    field: "build.steps[1].timeout",
    says: /did you mean timeoutSeconds\?/,
  },
  {
    what: "output from outside the checkout",
    base: "runs",
    app: (a) => (a.outputs[0].from = "../x"),
    where: "app.yaml",
    field: "outputs[0].from",
    says: /leaves the source checkout/,
  },
  {
    what: "output to a relative path",
    base: "runs",
    app: (a) => (a.outputs[0].to = "usr/bin/x"),
    where: "app.yaml",
    field: "outputs[0].to",
    says: /not an absolute path/,
  },
  {
    what: "output mode unquoted",
    base: "runs",
    app: (a) => (a.outputs[0].mode = 755),
    where: "app.yaml",
    field: "outputs[0].mode",
    says: /quoted octal string/,
  },
  {
    what: "process without args",
    base: "runs",
    app: (a) => delete a.processes[0].args,
    where: "app.yaml",
    field: "processes[0].args",
    says: /is missing/,
  },
  {
    what: "process name twice",
    base: "runs",
    app: (a) => a.processes.push({ ...a.processes[0] }),
    where: "app.yaml",
    field: "processes[1].name",
    says: /defined twice/,
  },
  {
    what: "process env with a number",
    base: "runs",
    app: (a) => (a.processes[0].env = { PORT: 80 }),
    where: "app.yaml",
    field: "processes[0].env",
    says: /map of strings/,
  },
  {
    what: "process cwd relative",
    base: "runs",
    app: (a) => (a.processes[0].cwd = "tmp"),
    where: "app.yaml",
    field: "processes[0].cwd",
    says: /absolute path/,
  },
  {
    what: "test on an unknown process",
    base: "runs",
    app: (a) => (a.tests[0].process = "web"),
    where: "app.yaml",
    field: "tests[0].process",
    says: /not defined/,
  },
  {
    what: "test without command",
    base: "runs",
    app: (a) => delete a.tests[0].command,
    where: "app.yaml",
    field: "tests[0].command",
    says: /is missing/,
  },
  {
    what: "test name twice",
    base: "runs",
    app: (a) => a.tests.push({ ...a.tests[0] }),
    where: "app.yaml",
    field: "tests[1].name",
    says: /defined twice/,
  },
  {
    what: "test pattern invalid",
    base: "runs",
    app: (a) => (a.tests[0].expectOutput = "(pong"),
    where: "app.yaml",
    field: "tests[0].expectOutput",
    says: /not a valid regular expression/,
  },
  {
    what: "exit code 300",
    base: "runs",
    app: (a) => (a.tests[0].expectExitCode = 300),
    where: "app.yaml",
    field: "tests[0].expectExitCode",
    says: /whole number from 0 to 255/,
  },
  {
    what: "test timeout a string",
    base: "runs",
    app: (a) => (a.tests[0].timeoutSeconds = "10s"),
    where: "app.yaml",
    field: "tests[0].timeoutSeconds",
    says: /whole number/,
  },
  {
    what: "memory negative",
    base: "runs",
    app: (a) => (a.resources.memoryMb = -1),
    where: "app.yaml",
    field: "resources.memoryMb",
    says: /whole number/,
  },
  {
    what: "cpu fractional",
    base: "runs",
    app: (a) => (a.resources.cpu = 0.5),
    where: "app.yaml",
    field: "resources.cpu",
    says: /whole number/,
  },
  {
    what: "resources key typo",
    base: "runs",
    app: (a) => (a.resources.memory = 8),
    where: "app.yaml",
    field: "resources.memory",
    says: /did you mean memoryMb\?/,
  },
  {
    what: "template dir absolute",
    base: "runs",
    app: (a) => (a.templates = ["/apps/x"]),
    where: "app.yaml",
    field: "templates[0]",
    says: /relative directory/,
  },
  {
    what: "branch not configured",
    base: "runs",
    app: (a) => (a.branches = ["develop"]),
    where: "app.yaml",
    field: "branches[0]",
    says: /not a known branch/,
  },
  {
    what: "top-level key typo in app file",
    base: "runs",
    app: (a) => (a.test = []),
    where: "app.yaml",
    field: "test",
    says: /did you mean tests\?/,
  },
];

/** Materializes a case: its config, grid file and tree directory (one per case, under `work`). */
function prepare(c: Case, i: number): BatchRun {
  const { stack, config } = BASES[c.base]();
  const dir = path.join(work, `case-${i}`);
  fs.mkdirSync(dir, { recursive: true });
  if (c.base === "grid") {
    const g = goodGrid();
    c.grid?.(g);
    const file = path.join(dir, "grid.yaml");
    fs.writeFileSync(file, c.gridText ?? J(g, null, 2));
    config["g8os:gridFile"] = file;
  }
  if (config["g8os:buildTreeDir"] === TREE_DIR) {
    const a = goodApp();
    c.app?.(a);
    const tree = path.join(dir, "tree");
    fs.mkdirSync(tree);
    fs.writeFileSync(path.join(tree, "app.yaml"), J(a, null, 2));
    config["g8os:buildTreeDir"] = tree;
  }
  for (const [k, v] of Object.entries(c.set ?? {})) {
    if (v === null) delete config[k];
    else config[k] = v;
  }
  return { stack, config };
}

/** The problem lines of a report (a single-problem error is its own line). */
function lines(message: string): string[] {
  const items = message.split("\n").filter((l) => l.startsWith("  - "));
  return items.length ? items.map((l) => l.slice(4)) : [message];
}

/** True when `line` names `where` (a key, followed by `:`/`[`/`)`/` `; or a file) and `field`. */
function names(line: string, where: string, field?: string): boolean {
  const at = line.indexOf(where);
  if (at < 0) return false;
  const next = line[at + where.length];
  if (where.startsWith("g8os:") && ![":", "[", ")", " "].includes(next)) return false;
  return field === undefined || field === "" || line.includes(`: ${field}: `);
}

describe("bad input is refused at preview: one RunError, no resources, key + field + fix", function () {
  this.timeout(600_000);
  let results: StackRun[] = [];
  let controls: StackRun[] = [];

  before(() => {
    const runs = CASES.map(prepare);
    // The valid controls run last and fully (not as previews): they register resources, whose
    // engine calls must not overlap the refused runs.
    const controlRuns = Object.keys(BASES).map((b, i) => ({
      ...prepare({ what: "control", base: b, where: "", says: /./ }, CASES.length + i),
      preview: false,
    }));
    const all = runStacksUnderMocks([...runs, ...controlRuns]);
    results = all.slice(0, runs.length);
    controls = all.slice(runs.length);
    assert.strictEqual(results.length, CASES.length, "one result per case");
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it("has at least 60 cases", () => assert.ok(CASES.length >= 60, `${CASES.length} cases`));

  it("every base configuration is valid (so each case fails for its own change)", () => {
    Object.keys(BASES).forEach((b, i) => {
      assert.strictEqual(controls[i].error, undefined, `base ${b}: ${controls[i].error}`);
      assert.ok((controls[i].resources ?? []).length > 0, `base ${b} registers resources`);
    });
  });

  it("covers every config key of Pulumi.yaml", () => {
    const covered = CASES.map((c) => /^g8os:(\w+)/.exec(c.where)?.[1]).filter(Boolean);
    const missing = schemaKeys().filter((k) => !covered.includes(k));
    assert.deepStrictEqual(missing, [], "config keys without a bad-input case");
  });

  it("covers every grid-file and build-tree field", () => {
    const norm = (f: string) => f.replace(/\[\d+\]/g, "[]");
    const fields = (file: string) =>
      CASES.filter((c) => c.where === file && c.field).map((c) => norm(c.field!));
    const grid = fields("grid.yaml");
    const gridWanted = [
      "network",
      "routes[]",
      "nodes",
      ...["name", "address", "port", "memoryMb", "cpu"].map((k) => `nodes[].${k}`),
      ...["name", "node", "plist", "memoryMb", "cpu", "env", "processes"].map((k) => `apps[].${k}`),
      ...["name", "args", "dir", "env", "oneshot"].map((k) => `apps[].processes[].${k}`),
    ];
    assert.deepStrictEqual(
      gridWanted.filter((f) => !grid.includes(f)),
      [],
      "grid fields without a case",
    );
    assert.ok(
      grid.some((f) => f.startsWith("apps[].ports")),
      "apps[].ports",
    );
    const tree = fields("app.yaml");
    const treeWanted = [
      ...APP_KEYS.filter((k) => !["outputs", "processes", "tests"].includes(k)).map((k) =>
        k === "templates" || k === "branches" ? `${k}[]` : k,
      ),
      ...Object.entries(APP_FIELDS).flatMap(([sec, ks]) =>
        ks.filter((k) => !(sec === "build.steps[]" && k === "name")).map((k) => `${sec}.${k}`),
      ),
    ];
    assert.deepStrictEqual(
      treeWanted.filter((f) => !tree.includes(f)),
      [],
      "build-tree fields without a case",
    );
  });

  CASES.forEach((c, i) => {
    it(`${c.what}: ${c.where}${c.field ? ` ${c.field}` : ""}`, () => {
      const r = results[i];
      const msg = r.error ?? "";
      assert.ok(r.error, "the program must refuse this input");
      assert.strictEqual(r.runError, true, `a pulumi.RunError, not ${r.errorName}: ${msg}`);
      assert.deepStrictEqual(
        (r.resources ?? []).map((x) => `${x.type} ${x.name}`),
        [],
        "no resource registered",
      );
      const problems = lines(msg);
      const line = problems.find((l) => names(l, c.where, c.field) && c.says.test(l));
      assert.ok(line, `no problem names ${c.where} ${c.field ?? ""} saying ${c.says}:\n${msg}`);
      assert.match(line, /Fix: \S.{2,}/, "the problem says how to fix it");
      for (const extra of c.also ?? [])
        assert.ok(
          problems.some((l) => names(l, extra.where) && extra.says.test(l) && /Fix: \S/.test(l)),
          `also ${extra.where} ${extra.says}:\n${msg}`,
        );
      assert.doesNotMatch(msg, /privateKeys\[|connection\.|unhandled exception|\n\s+at /);
      if (c.secret) assert.ok(!msg.includes(c.secret), "the message must not echo the secret");
    });
  });
});
