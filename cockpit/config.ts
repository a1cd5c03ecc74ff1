/**
 * The cockpit's config file (YAML or JSON): read, checked key by key (every bad key reported at
 * once, each with its fix), defaults filled in. Keys are documented on `CockpitConfig` and in
 * cockpit/README.md.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { InputError } from "../providers/shared/errors";
import type { LoginSettings } from "./auth/login";
import type { AuthConfig } from "./auth/roles";
import { CockpitConfigError } from "./errors";
import type { DriftSettings } from "./drift/schedule";
import type { RobotSettings } from "./robot/settings";
import type { StatusSettings } from "./status/settings";
import { Checker } from "./config-checker";
import { checkRobot, checkStatus } from "./config-sections";

/** The checked config. */
export interface CockpitConfig {
  /** Where the REST API listens. */
  listen: {
    /** An IP address (the cockpit VM's ZeroTier IP in production; 127.0.0.1 in tests). Wildcards are refused. Default 127.0.0.1. */
    host: string;
    /** TCP port, 0 for any free one. Default 8080. */
    port: number;
  };
  /** The project directory: `Pulumi.yaml` and the `Pulumi.<stack>.yaml` files; required, must exist. */
  projectDir: string;
  /** Where history, logs and tokens are kept (created, mode 0700); required. */
  dataDir: string;
  /** Only these stacks may be run; default: every `Pulumi.<stack>.yaml` of the project. */
  stacks?: string[];
  /** Largest request body, bytes (1 KiB - 1 MiB). Default 65536. */
  maxBodyBytes: number;
  /** The engine. */
  pulumi: {
    /** Directory holding `bin/pulumi` (the pinned CLI); required, `bin/pulumi` must exist. */
    root: string;
    /** State backend URL. Default `file://<dataDir>/state`. */
    backendUrl: string;
    /** The stack passphrase file; required, owned by the service user, mode 0600 or 0400. */
    passphraseFile: string;
    /** `PULUMI_HOME` of the CLI. Default: the CLI's own (`~/.pulumi`). */
    home?: string;
    /** Skip the SDK's CLI version check. Default false. */
    skipVersionCheck: boolean;
  };
  /** Access: ItsYou.online or OIDC, see `cockpit/auth/roles.ts`. */
  auth: AuthConfig & {
    /** Seconds of clock difference tolerated on `exp`/`nbf` (0-600). Default 60. */
    clockSkewSeconds: number;
    /** The browser login (OIDC mode only): `redirectUrl`, `clientSecretFile` (mode 0600), `scopes`. Default: none. */
    login?: LoginSettings;
  };
  /** The Telegram robot (`robot.tokenFile`, `chatId`, `topicId`, `apiRoot`, `operators`, `pollSeconds`, `maxMessagesPerMinute`); unset: no robot. */
  robot?: RobotSettings;
  /** The drift schedule (`drift.intervalMinutes`, `stacks`, `autoRepair`); unset: no schedule. */
  drift?: DriftSettings;
  /** Status without running Pulumi (`status.stack`, `cacheSeconds`, `onlineWithinSeconds`, `zerotier`, `core0`); unset: `GET /api/status` has no `environment`. */
  status?: StatusSettings;
}

/** Checks a parsed config object; `file` names it in messages and resolves relative paths. */
export function checkConfig(raw: unknown, file: string): CockpitConfig {
  const c = new Checker(file);
  const base = path.dirname(path.resolve(file));
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(base, p));
  const top = c.obj(raw, "(file)", true) ?? {};
  c.unknown(
    top,
    [
      "listen",
      "projectDir",
      "dataDir",
      "stacks",
      "maxBodyBytes",
      "pulumi",
      "auth",
      "robot",
      "drift",
      "status",
    ],
    "",
  );

  const listen = c.obj(top.listen, "listen", false) ?? {};
  c.unknown(listen, ["host", "port"], "listen.");
  const host = c.str(listen, "host", "listen.", "127.0.0.1");
  if (host !== undefined) {
    if (!net.isIP(host))
      c.fail("listen.host", `"${host}" is not an IP address`, "give the cockpit VM's ZeroTier IP");
    else if (host === "0.0.0.0" || host === "::")
      c.fail(
        "listen.host",
        "is a wildcard address",
        "listen on the ZeroTier IP only (ufw allows the port there only)",
      );
  }
  const port = c.int(listen, "port", "listen.", 8080, 0, 65535);

  const projectDir = abs(c.str(top, "projectDir", ""));
  if (projectDir && !fs.existsSync(path.join(projectDir, "Pulumi.yaml"))) {
    c.fail("projectDir", `${projectDir} has no Pulumi.yaml`, "point it at the synced g8os project directory");
  }
  const dataDir = abs(c.str(top, "dataDir", ""));
  let stacks: string[] | undefined;
  if (top.stacks !== undefined) {
    if (!Array.isArray(top.stacks) || top.stacks.some((s) => typeof s !== "string" || !s)) {
      c.fail("stacks", "is not a list of stack names", "give e.g. [build] or remove it to allow every stack");
    } else stacks = top.stacks as string[];
  }
  const maxBodyBytes = c.int(top, "maxBodyBytes", "", 65536, 1024, 1048576);

  const pu = c.obj(top.pulumi, "pulumi", true) ?? {};
  c.unknown(pu, ["root", "backendUrl", "passphraseFile", "home", "skipVersionCheck"], "pulumi.");
  const root = abs(c.str(pu, "root", "pulumi."));
  if (root && !fs.existsSync(path.join(root, "bin", "pulumi"))) {
    c.fail(
      "pulumi.root",
      `${root}/bin/pulumi does not exist`,
      "give the directory of the pinned Pulumi CLI (it holds bin/pulumi)",
    );
  }
  const backendUrl = c.str(
    pu,
    "backendUrl",
    "pulumi.",
    dataDir ? `file://${path.join(dataDir, "state")}` : "file://",
  );
  const passphraseFile = abs(c.str(pu, "passphraseFile", "pulumi."));
  if (passphraseFile) {
    try {
      const st = fs.statSync(passphraseFile);
      if ((st.mode & 0o077) !== 0) {
        c.fail(
          "pulumi.passphraseFile",
          `${passphraseFile} is readable by others (mode ${(st.mode & 0o777).toString(8)})`,
          `chmod 600 ${passphraseFile}`,
        );
      }
      if (typeof process.getuid === "function" && st.uid !== process.getuid()) {
        c.fail(
          "pulumi.passphraseFile",
          `${passphraseFile} is not owned by the service user`,
          `chown it to the user the cockpit runs as`,
        );
      }
    } catch {
      c.fail(
        "pulumi.passphraseFile",
        `${passphraseFile} does not exist`,
        "hand over the stack's passphrase file from the bootstrap machine",
      );
    }
  }
  const home = pu.home === undefined ? undefined : abs(c.str(pu, "home", "pulumi."));
  if (pu.skipVersionCheck !== undefined && typeof pu.skipVersionCheck !== "boolean") {
    c.fail("pulumi.skipVersionCheck", "is not a boolean", "set true or false");
  }

  const a = c.obj(top.auth, "auth", true) ?? {};
  const clockSkewSeconds = c.int(a, "clockSkewSeconds", "auth.", 60, 0, 600);
  let auth: AuthConfig | undefined;
  let login: LoginSettings | undefined;
  if (a.mode === "itsyouonline") {
    c.unknown(
      a,
      [
        "mode",
        "clockSkewSeconds",
        "issuer",
        "jwksUrl",
        "publicKeyFile",
        "organization",
        "operatorOrganization",
      ],
      "auth.",
    );
    const issuer = c.str(a, "issuer", "auth.", "itsyouonline");
    const jwksUrl = c.url(a, "jwksUrl", "auth.", false);
    let publicKeyPem: string | undefined;
    if (a.publicKeyFile !== undefined) {
      const f = abs(c.str(a, "publicKeyFile", "auth."));
      if (f) {
        try {
          publicKeyPem = fs.readFileSync(f, "utf8");
          crypto.createPublicKey(publicKeyPem);
        } catch {
          c.fail(
            "auth.publicKeyFile",
            `${f} is not a readable PEM public key`,
            "give the issuer's public key (PEM)",
          );
        }
      }
    }
    if (!jwksUrl && a.publicKeyFile === undefined) {
      c.fail(
        "auth.jwksUrl",
        "is missing (and so is auth.publicKeyFile)",
        "set auth.jwksUrl to the issuer's JWKS, or auth.publicKeyFile to its PEM key",
      );
    }
    const organization = c.str(a, "organization", "auth.");
    const operatorOrganization = c.str(a, "operatorOrganization", "auth.");
    if (issuer && (jwksUrl || publicKeyPem) && organization && operatorOrganization) {
      auth = {
        mode: "itsyouonline",
        issuer,
        organization,
        operatorOrganization,
        ...(jwksUrl ? { jwksUrl } : {}),
        ...(publicKeyPem ? { publicKeyPem } : {}),
      };
    }
  } else if (a.mode === "oidc") {
    c.unknown(
      a,
      [
        "mode",
        "clockSkewSeconds",
        "issuer",
        "clientId",
        "jwksUrl",
        "groupClaim",
        "viewerGroup",
        "operatorGroup",
        "login",
      ],
      "auth.",
    );
    if (a.login !== undefined) {
      const l = c.obj(a.login, "auth.login", true) ?? {};
      c.unknown(l, ["redirectUrl", "clientSecretFile", "scopes"], "auth.login.");
      const redirectUrl = c.url(l, "redirectUrl", "auth.login.", true);
      let clientSecret: string | undefined;
      if (l.clientSecretFile !== undefined) {
        const f = abs(c.str(l, "clientSecretFile", "auth.login."));
        try {
          if (f && (fs.statSync(f).mode & 0o077) !== 0)
            c.fail("auth.login.clientSecretFile", `${f} is readable by others`, `chmod 600 ${f}`);
          else if (f) clientSecret = fs.readFileSync(f, "utf8").trim();
        } catch {
          c.fail(
            "auth.login.clientSecretFile",
            `${f} does not exist`,
            "write the provider's client secret there (mode 0600)",
          );
        }
      }
      const scopes = l.scopes === undefined ? undefined : c.str(l, "scopes", "auth.login.");
      if (redirectUrl)
        login = { redirectUrl, ...(clientSecret ? { clientSecret } : {}), ...(scopes ? { scopes } : {}) };
    }
    const issuer = c.url(a, "issuer", "auth.", true);
    const clientId = c.str(a, "clientId", "auth.");
    const jwksUrl = c.url(a, "jwksUrl", "auth.", false);
    const groupClaim = c.str(a, "groupClaim", "auth.", "groups");
    const viewerGroup = c.str(a, "viewerGroup", "auth.");
    const operatorGroup = c.str(a, "operatorGroup", "auth.");
    if (issuer && clientId && groupClaim && viewerGroup && operatorGroup) {
      auth = {
        mode: "oidc",
        issuer,
        clientId,
        groupClaim,
        viewerGroup,
        operatorGroup,
        ...(jwksUrl ? { jwksUrl } : {}),
      };
    }
  } else {
    c.fail(
      "auth.mode",
      a.mode === undefined ? "is missing" : `"${String(a.mode)}" is not a mode`,
      "set itsyouonline or oidc",
    );
  }

  const robot = top.robot === undefined ? undefined : checkRobot(c, top.robot, abs);
  let drift: DriftSettings | undefined;
  if (top.drift !== undefined) {
    const d = c.obj(top.drift, "drift", true) ?? {};
    c.unknown(d, ["intervalMinutes", "stacks", "autoRepair"], "drift.");
    const intervalMinutes = c.int(d, "intervalMinutes", "drift.", 60, 1, 10080);
    let driftStacks: string[] | undefined;
    if (d.stacks !== undefined) {
      if (!Array.isArray(d.stacks) || d.stacks.some((s) => typeof s !== "string" || !s))
        c.fail(
          "drift.stacks",
          "is not a list of stack names",
          "give e.g. [build] or remove it for every stack",
        );
      else driftStacks = d.stacks as string[];
    }
    if (d.autoRepair !== undefined && typeof d.autoRepair !== "boolean")
      c.fail("drift.autoRepair", "is not a boolean", "set true (repair without approval) or false");
    if (intervalMinutes !== undefined)
      drift = {
        intervalMinutes,
        ...(driftStacks ? { stacks: driftStacks } : {}),
        autoRepair: d.autoRepair === true,
      };
  }

  const status = top.status === undefined ? undefined : checkStatus(c, top.status, abs);

  if (c.failures.length > 0 || !auth) throw new CockpitConfigError(file, c.failures);
  return {
    listen: { host: host!, port: port! },
    projectDir: projectDir!,
    dataDir: dataDir!,
    ...(stacks ? { stacks } : {}),
    maxBodyBytes: maxBodyBytes!,
    pulumi: {
      root: root!,
      backendUrl: backendUrl!,
      passphraseFile: passphraseFile!,
      ...(home ? { home } : {}),
      skipVersionCheck: pu.skipVersionCheck === true,
    },
    auth: { ...auth, clockSkewSeconds: clockSkewSeconds!, ...(login ? { login } : {}) },
    ...(robot ? { robot } : {}),
    ...(drift ? { drift } : {}),
    ...(status ? { status } : {}),
  };
}

/** Reads and checks the config file at `file`. */
export function loadConfig(file: string): CockpitConfig {
  const yaml = require("js-yaml");
  let raw: unknown;
  try {
    raw = yaml.load(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new CockpitConfigError(file, [
      new InputError(
        `cockpit config ${file}`,
        "(file)",
        `cannot be read as YAML/JSON (${(err as Error).message})`,
        "fix the file's syntax",
      ),
    ]);
  }
  return checkConfig(raw, file);
}
