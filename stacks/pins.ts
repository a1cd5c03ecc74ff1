/**
 * Reads `pins.yaml` (every upstream artefact the environment downloads, by URL and sha256) and the
 * stack's `g8os:pins` override, and checks both. Every problem reads
 * `<pins.yaml | g8os:pins>: <entry>: <field>: <what is wrong>. Fix: <fix>`, collected with the rest
 * of the config's problems. The file's own comments say what each entry is.
 */
import * as fs from "fs";
import * as path from "path";
import { didYouMean, sha256Hex } from "../providers/shared/validate";
import type { ConfigReader } from "./config-reader";

/** The pins file at the repository root. */
export const PINS_FILE = path.join(__dirname, "..", "pins.yaml");

/** A value nobody has pinned yet: a stack that uses it stops at preview. */
export const NOT_PINNED = "required";

/** One downloaded file: where from, and the sha256 it must have (either may be NOT_PINNED). */
export interface FilePin {
  url: string;
  sha256: string;
}

/** An apt repository; apt verifies it with a key pin (`{codename}`: the host's VERSION_CODENAME). */
export interface AptPin {
  url: string;
  suite: string;
  component: string;
}

export interface Pins {
  ubuntuImage: FilePin;
  core0Kernel: FilePin;
  /** Absent: the core0 kernel has its initramfs built in. */
  core0Initrd?: FilePin;
  zerotierAptKey: FilePin;
  zerotierAptSource: AptPin;
  node: FilePin;
  pulumiCli: FilePin;
}

export type PinName = keyof Pins;

const FILE_FIELDS = ["url", "sha256"];
const APT_FIELDS = ["url", "suite", "component"];
/** Each entry's fields, and whether the file may leave it out. */
const ENTRIES: Record<PinName, { fields: string[]; optional?: boolean }> = {
  ubuntuImage: { fields: FILE_FIELDS },
  core0Kernel: { fields: FILE_FIELDS },
  core0Initrd: { fields: FILE_FIELDS, optional: true },
  zerotierAptKey: { fields: FILE_FIELDS },
  zerotierAptSource: { fields: APT_FIELDS },
  node: { fields: FILE_FIELDS },
  pulumiCli: { fields: FILE_FIELDS },
};

export const PIN_NAMES = Object.keys(ENTRIES) as PinName[];

/**
 * URL characters a pin may use: they go into shell commands unquoted-safe (no quote, `$`, space or
 * backtick), so a pin can never inject shell.
 */
const URL_CHARS = /^[A-Za-z0-9._~:/%+@=,-]+$/;

function urlProblem(v: string, allowCodename: boolean): string | undefined {
  const text = allowCodename ? v.split("{codename}").join("codename") : v;
  let ok = false;
  try {
    const u = new URL(text);
    ok = u.protocol === "http:" || u.protocol === "https:";
  } catch {
    ok = false;
  }
  if (!ok) return "must be an http(s) URL";
  if (!URL_CHARS.test(text))
    return "has characters a pin may not use (quotes, spaces, `$`, `{...}` other than {codename})";
  return undefined;
}

function fieldProblem(
  entry: PinName,
  field: string,
  v: unknown,
): { problem: string; fix: string } | undefined {
  const apt = entry === "zerotierAptSource";
  if (typeof v !== "string" || v.trim() === "")
    return { problem: `is ${JSON.stringify(v)}, not a non-empty string`, fix: fixFor(entry, field) };
  if (v === NOT_PINNED && !apt && (field === "url" || field === "sha256")) return undefined;
  const reason =
    field === "url"
      ? urlProblem(v, apt)
      : field === "sha256"
        ? sha256Hex(v)
        : /^(\{codename\}|[a-z0-9][a-z0-9._/-]*)$/.test(v)
          ? undefined
          : "must be an apt suite or component name (lower case, or {codename})";
  return reason ? { problem: `${JSON.stringify(v)} ${reason}`, fix: fixFor(entry, field) } : undefined;
}

function fixFor(entry: PinName, field: string): string {
  if (field === "sha256")
    return `write the publisher's digest (64 lowercase hex, \`sha256sum <file>\`), or \`${NOT_PINNED}\` until you have one`;
  if (field === "url")
    return entry === "zerotierAptSource"
      ? "write the repository's http(s) base URL, e.g. https://download.zerotier.com/debian/{codename}"
      : `write the file's http(s) URL, or \`${NOT_PINNED}\` until you have one`;
  return 'write an apt name such as "main" or "{codename}"';
}

/**
 * Checks one layer (the file, or a stack's override) and returns its entries. `partial`: an
 * override may give any subset of entries and fields; the file must give every non-optional one.
 */
export function parsePins(
  doc: unknown,
  where: string,
  partial: boolean,
): { pins: Partial<Record<PinName, Record<string, string>>>; problems: string[] } {
  const problems: string[] = [];
  const add = (entry: string, field: string | undefined, problem: string, fix: string) =>
    problems.push(`${where}: ${entry}: ${field ? `${field}: ` : ""}${problem}. Fix: ${fix}`);
  const pins: Partial<Record<PinName, Record<string, string>>> = {};
  if (doc === undefined || doc === null) doc = {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    problems.push(
      `${where}: is ${Array.isArray(doc) ? "a list" : JSON.stringify(doc)}, not a map of entries. Fix: write one entry per artefact (${PIN_NAMES.join(", ")})`,
    );
    return { pins, problems };
  }
  for (const [name, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!(name in ENTRIES)) {
      const near = didYouMean(name, PIN_NAMES);
      add(
        name,
        undefined,
        `is not a pinned artefact${near ? ` (did you mean ${near}?)` : ""}`,
        near ? `rename it to ${near}` : `remove it; known entries: ${PIN_NAMES.join(", ")}`,
      );
      continue;
    }
    const entry = name as PinName;
    const spec = ENTRIES[entry];
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      add(entry, undefined, "is not a map", `give it the fields ${spec.fields.join(", ")}`);
      continue;
    }
    const out: Record<string, string> = {};
    for (const [field, v] of Object.entries(value as Record<string, unknown>)) {
      if (!spec.fields.includes(field)) {
        const near = didYouMean(field, spec.fields);
        add(
          entry,
          field,
          "is not a field of this entry",
          near ? `rename it to ${near}` : `use ${spec.fields.join(", ")}`,
        );
        continue;
      }
      const p = fieldProblem(entry, field, v);
      if (p) add(entry, field, p.problem, p.fix);
      else out[field] = v as string;
    }
    if (!partial)
      for (const field of spec.fields)
        if (!(field in (value as Record<string, unknown>)))
          add(entry, field, "is missing", fixFor(entry, field));
    pins[entry] = out;
  }
  if (!partial)
    for (const name of PIN_NAMES)
      if (!ENTRIES[name].optional && !(name in (doc as Record<string, unknown>)))
        add(name, undefined, "is missing", `add the entry with ${ENTRIES[name].fields.join(", ")}`);
  return { pins, problems };
}

/** Reads and checks the pins file. Problems name the file by its base name (`pins.yaml`). */
export function loadPins(file = PINS_FILE): {
  pins: Partial<Record<PinName, Record<string, string>>>;
  problems: string[];
} {
  const where = path.basename(file);
  let doc: unknown;
  try {
    const yaml = require("js-yaml") as typeof import("js-yaml");
    doc = yaml.load(fs.readFileSync(file, "utf8"));
  } catch (err) {
    const what =
      (err as { code?: string }).code === "ENOENT"
        ? "is missing"
        : `does not parse: ${(err as Error).message.split("\n")[0]}`;
    return {
      pins: {},
      problems: [`${where}: ${what}. Fix: restore ${where} at the repository root (git checkout ${where})`],
    };
  }
  return parsePins(doc, where, false);
}

/**
 * The pins this stack uses: the file's, overridden field by field by `g8os:pins` (JSON). Problems
 * go into the reader's report. The result is complete when no problem was reported.
 */
export function readPins(r: ConfigReader, file = PINS_FILE): Pins {
  const base = loadPins(file);
  r.addLines(base.problems);
  const merged: Partial<Record<PinName, Record<string, string>>> = { ...base.pins };
  const raw = r.string("pins", { example: `'{"ubuntuImage":{"url":"https://...","sha256":"<64 hex>"}}'` });
  if (raw !== undefined && raw.trim() !== "") {
    let doc: unknown;
    try {
      doc = JSON.parse(raw);
    } catch {
      r.add(
        "pins",
        "is not JSON",
        `write a JSON object of pins.yaml's shape: \`pulumi config set g8os:pins '{"ubuntuImage":{"sha256":"<64 hex>"}}'\``,
      );
    }
    if (doc !== undefined) {
      const over = parsePins(doc, "g8os:pins", true);
      r.addLines(over.problems);
      for (const [name, fields] of Object.entries(over.pins))
        merged[name as PinName] = { ...(merged[name as PinName] ?? {}), ...fields };
    }
  }
  const file0 = (name: PinName): FilePin => ({
    url: merged[name]?.url ?? NOT_PINNED,
    sha256: merged[name]?.sha256 ?? NOT_PINNED,
  });
  const apt = merged.zerotierAptSource ?? {};
  return {
    ubuntuImage: file0("ubuntuImage"),
    core0Kernel: file0("core0Kernel"),
    core0Initrd: merged.core0Initrd ? file0("core0Initrd") : undefined,
    zerotierAptKey: file0("zerotierAptKey"),
    zerotierAptSource: { url: apt.url ?? "", suite: apt.suite ?? "", component: apt.component ?? "" },
    node: file0("node"),
    pulumiCli: file0("pulumiCli"),
  };
}

/**
 * A file pin the stack is about to download: reports each field still NOT_PINNED, with how to pin
 * it (in pins.yaml, or per stack with `keys`, the older g8os keys for this entry, or g8os:pins).
 */
export function requirePinned(
  r: ConfigReader,
  name: PinName,
  pin: FilePin,
  keys?: { url: string; sha256: string },
  hint = "",
): void {
  for (const field of ["url", "sha256"] as const) {
    if (pin[field] !== NOT_PINNED) continue;
    const perStack = keys
      ? `\`pulumi config set g8os:${keys[field]} <${field === "url" ? "URL" : "64 hex"}>\``
      : `\`pulumi config set g8os:pins '{"${name}":{"${field}":"<${field === "url" ? "URL" : "64 hex"}>"}}'\``;
    r.addLines([
      `pins.yaml: ${name}: ${field}: is not pinned ("${NOT_PINNED}") and this stack downloads it. ` +
        `Fix: write it into pins.yaml${hint ? ` (${hint})` : ""}, or for this stack only ${perStack}`,
    ]);
  }
}

/** Single-quoted for sh. Pin values are checked (URL_CHARS, hex), so this is belt and braces. */
function q(s: string): string {
  return `'${s.split("'").join(`'\\''`)}'`;
}

/** Where the default install keeps ZeroTier's key and source list on a host, and reads the OS codename. */
export const ZEROTIER_APT_FILES = {
  key: "/etc/apt/keyrings/g8os-zerotier.asc",
  list: "/etc/apt/sources.list.d/g8os-zerotier.list",
  osRelease: "/etc/os-release",
};

/**
 * The default zerotier-one install (run as root on a Debian/Ubuntu host, or in a guest's
 * cloud-init, when `zerotier-cli` is missing): fetch the pinned key, refuse it unless its sha256
 * matches, add the pinned repository signed by that key only, install zerotier-one, start it.
 * One `&&` chain, so it can run inside `cmd || { ...; }` (where `set -e` has no effect).
 * The key is `.asc` (armoured), which apt (>= 1.4) reads in `signed-by` without gpg.
 */
export function zerotierInstallCommand(key: FilePin, source: AptPin, files = ZEROTIER_APT_FILES): string {
  const { key: keyFile, list, osRelease } = files;
  const part = `${keyFile}.part`;
  const codename = (s: string) => s.split("{codename}").join("$c");
  const apt = "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends";
  const mismatch =
    `pins.yaml: zerotierAptKey: sha256: the file at ${key.url} is not the pinned ${key.sha256}; nothing was installed. ` +
    "Fix: check the URL; if ZeroTier changed its key, pin the new file and digest in pins.yaml";
  return [
    `{ command -v curl >/dev/null || { apt-get update -q && ${apt} curl ca-certificates; }; }`,
    `mkdir -p ${q(path.posix.dirname(keyFile))}`,
    `curl -fsSL --max-time 300 -o ${q(part)} ${q(key.url)}`,
    `{ echo ${q(`${key.sha256}  ${part}`)} | sha256sum -c --status - || { rm -f ${q(part)}; echo ${q(mismatch)} >&2; false; }; }`,
    `mv -f ${q(part)} ${q(keyFile)}`,
    `. ${q(osRelease)}`,
    `c="\${VERSION_CODENAME:-}"`,
    `{ [ -n "$c" ] || { echo 'zerotier-one install: ${osRelease} has no VERSION_CODENAME. Fix: set g8os:zerotierInstallCommand for this host' >&2; false; }; }`,
    `echo "deb [signed-by=${keyFile}] ${codename(source.url)} ${codename(source.suite)} ${codename(source.component)}" > ${q(list)}`,
    "apt-get update -q",
    `${apt} zerotier-one`,
    "{ systemctl enable --now zerotier-one || service zerotier-one start; }",
  ].join(" && ");
}
