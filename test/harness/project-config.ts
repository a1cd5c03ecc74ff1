/**
 * The project's `config:` schema (Pulumi.yaml) applied to a stack's config the way the CLI does
 * before every preview/up/refresh/destroy. Read from pulumi/pulumi (tag v3.259.0):
 * - pkg/workspace/config.go `mergeConfig` / `ValidateStackConfigAndApplyProjectConfig`: a key
 *   not set on the stack takes the schema's `value` or `default`; a project-namespaced key with
 *   neither is REQUIRED ("Stack 'x' is missing configuration value(s) ..."); then
 *   `validateStackConfigValues`: a `secret: true` key set in plain text fails, then the value's
 *   type is checked against `type`/`items`; the first failure (keys in sorted order) is returned.
 * - sdk/go/common/workspace/project.go `ValidateConfigValue` (string; integer also as a whole
 *   float or an integer string; boolean also as "true"/"false"; object; array element-wise) and
 *   `Project.Validate` (an array needs `items`, a default must match its type, `default` and
 *   `value` exclude each other, a key namespaced by another package has only a `value`).
 * - Before those, sdk/go/common/workspace/loaders.go `LoadProjectBytes`: `ValidateProject` checks
 *   the file against the JSON schema sdk/go/common/workspace/project.json (`projectFileProblems`
 *   below: every problem, as `#/<path>: <what>`), then `RewriteShorthandConfigValues`
 *   (project.go) turns a bare value (`key: 22`, `key: [a]`) into `{default: ...}` for a key of
 *   the project, `{value: ...}` for another package's key.
 */
import * as fs from "fs";

/** A stack config value as the harness takes it (see HarnessOptions.config). */
export type StackConfigValue = string | { secret: string };

/** One `config:` entry of Pulumi.yaml (a bare value is shorthand for `{ default }` or `{ value }`). */
interface SchemaEntry {
  type?: string;
  items?: ItemsType;
  default?: unknown;
  value?: unknown;
  secret?: boolean;
  description?: string;
}

interface ItemsType {
  type: string;
  items?: ItemsType;
}

export interface ProjectSchema {
  /** The project's `name`. */
  name: string;
  /** File it was read from (for messages). */
  file: string;
  /** `config:` entries by key as written (bare or namespaced). */
  config: Record<string, SchemaEntry>;
}

/** Reads Pulumi.yaml; throws naming the file and what is wrong with the schema (Project.Validate). */
export function loadProjectSchema(file: string): ProjectSchema {
  const yaml = require("js-yaml") as typeof import("js-yaml");
  const doc = yaml.load(fs.readFileSync(file, "utf8")) as Record<string, unknown> | null;
  if (!doc || typeof doc.name !== "string" || !doc.name) {
    throw new Error(`${file}: project is missing a 'name' attribute. Fix: add name: <project>.`);
  }
  const structural = projectFileProblems(doc);
  if (structural.length) {
    throw new Error(
      `${file}: could not validate: ${structural.join("; ")}. Fix: correct these attributes (the CLI refuses the file)`,
    );
  }
  const config: Record<string, SchemaEntry> = {};
  for (const [key, raw] of Object.entries((doc.config as Record<string, unknown>) ?? {})) {
    const bare = raw === null || typeof raw !== "object" || Array.isArray(raw);
    config[key] = !bare
      ? (raw as SchemaEntry)
      : namespacedByProject(doc.name, key)
        ? { default: raw }
        : { value: raw };
  }
  const schema: ProjectSchema = { name: doc.name, file, config };
  const problem = schemaProblem(schema);
  if (problem) throw new Error(`${file}: ${problem}`);
  return schema;
}

const SIMPLE_TYPES = ["string", "integer", "boolean", "array", "object"];
const DECLARATION_KEYS = ["type", "items", "description", "secret", "default", "value"];
const NULLABLE_STRINGS = ["description", "author", "website", "license", "main", "stackConfigDir"];

/**
 * The rules of pulumi/pulumi sdk/go/common/workspace/project.json that a project file can break
 * (draft 2020-12; `ValidateProject` reports each as `#/<path>: <message>`): `name` a non-empty
 * string; `description`/`author`/`website`/`license`/`main`/`stackConfigDir` string or null;
 * `runtime` a non-empty string or `{name, options}` and nothing else; `config` an object (or a
 * string: the deprecated config directory, or null) whose entries are each a string, an integer,
 * a boolean, an array, or a declaration (`configTypeDeclaration`, no other attributes) with `type`
 * one of string/integer/boolean/array/object, `items` a `configItemsType` (`type` required;
 * `items` required when it is array), `description` a string, `secret` a boolean. A float or a
 * null entry fits none of them.
 */
export function projectFileProblems(doc: Record<string, unknown>): string[] {
  const out: string[] = [];
  const isObject = (v: unknown): v is Record<string, unknown> =>
    !!v && typeof v === "object" && !Array.isArray(v);
  if (typeof doc.name !== "string" || !doc.name) out.push("#/name: must be a non-empty string");
  for (const k of NULLABLE_STRINGS) {
    if (k in doc && doc[k] !== null && typeof doc[k] !== "string") out.push(`#/${k}: must be a string`);
  }
  const rt = doc.runtime;
  if (rt !== undefined) {
    if (typeof rt === "string") {
      if (!rt) out.push("#/runtime: must be a non-empty string");
    } else if (!isObject(rt)) out.push("#/runtime: must be a string or an object {name, options}");
    else {
      if (typeof rt.name !== "string" || !rt.name) out.push("#/runtime/name: must be a non-empty string");
      if ("options" in rt && !isObject(rt.options)) out.push("#/runtime/options: must be an object");
      for (const k of Object.keys(rt))
        if (k !== "name" && k !== "options") out.push(`#/runtime: '${k}' not allowed`);
    }
  }
  const items = (at: string, v: unknown): void => {
    if (!isObject(v)) return void out.push(`${at}: must be an object {type, items}`);
    if (v.type === undefined) out.push(`${at}: missing property 'type'`);
    else if (isObject(v.type)) items(`${at}/type`, v.type);
    else if (!SIMPLE_TYPES.includes(v.type as string))
      out.push(`${at}/type: must be one of ${SIMPLE_TYPES.join(", ")}`);
    if (v.type === "array" && v.items === undefined) out.push(`${at}: missing property 'items'`);
    if (v.items !== undefined) items(`${at}/items`, v.items);
  };
  const config = doc.config;
  if (config === undefined || config === null || typeof config === "string") return out;
  if (!isObject(config)) return [...out, "#/config: must be an object"];
  for (const [key, e] of Object.entries(config)) {
    const at = `#/config/${key}`;
    if (key === "secret" && typeof e !== "boolean") {
      out.push(`${at}: must be a boolean`);
      continue;
    }
    if (typeof e === "string" || typeof e === "boolean" || Array.isArray(e)) continue;
    if (typeof e === "number") {
      if (!Number.isInteger(e)) out.push(`${at}: a bare number must be an integer`);
      continue;
    }
    if (!isObject(e)) {
      out.push(
        `${at}: must be a string, an integer, a boolean, an array or a declaration {type, default, ...}`,
      );
      continue;
    }
    for (const k of Object.keys(e)) {
      if (!DECLARATION_KEYS.includes(k))
        out.push(
          `${at}: '${k}' not allowed; the allowed attributes are ${DECLARATION_KEYS.map((x) => `'${x}'`).join(", ")}`,
        );
    }
    if (e.type !== undefined && !SIMPLE_TYPES.includes(e.type as string))
      out.push(`${at}/type: must be one of ${SIMPLE_TYPES.join(", ")}`);
    if (e.items !== undefined) items(`${at}/items`, e.items);
    if (e.description !== undefined && typeof e.description !== "string")
      out.push(`${at}/description: must be a string`);
    if (e.secret !== undefined && typeof e.secret !== "boolean") out.push(`${at}/secret: must be a boolean`);
  }
  return out;
}

function namespacedByProject(project: string, key: string): boolean {
  return !key.includes(":") || key.startsWith(`${project}:`);
}

function fullKey(project: string, key: string): string {
  return key.includes(":") ? key : `${project}:${key}`;
}

function typeName(type: string, items?: ItemsType): string {
  return items ? `array<${typeName(items.type, items.items)}>` : type;
}

/** `ValidateConfigValue`: does `value` (a string, or parsed JSON for object values) fit the type? */
export function fitsType(type: string, items: ItemsType | undefined, value: unknown): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      if (typeof value === "number") return Number.isInteger(value);
      // Go's strconv.Atoi: optional sign and decimal digits only.
      return typeof value === "string" && /^[+-]?\d+$/.test(value);
    case "boolean":
      return typeof value === "boolean" || value === "true" || value === "false";
    case "object":
      return !!value && typeof value === "object" && !Array.isArray(value);
    default:
      return Array.isArray(value) && !!items && value.every((v) => fitsType(items.type, items.items, v));
  }
}

/** `Project.Validate` for the config block: the first problem, or undefined. */
function schemaProblem(s: ProjectSchema): string | undefined {
  for (const [key, e] of Object.entries(s.config)) {
    if (e.default !== undefined && e.value !== undefined)
      return `project config '${key}' cannot have both a 'default' and 'value' attribute`;
    if (namespacedByProject(s.name, key)) {
      if (e.type === "array" && !e.items)
        return `The configuration key '${key}' declares an array but does not specify the underlying type via the 'items' attribute`;
      if (e.type !== undefined && e.default !== undefined && !fitsType(e.type, e.items, e.default))
        return `The default value specified for configuration key '${key}' is not of the expected type '${typeName(e.type, e.items)}'`;
    } else {
      if (e.type !== undefined)
        return `Configuration key '${key}' is not namespaced by the project and should not define a type`;
      if (e.default !== undefined)
        return `Configuration key '${key}' is not namespaced by the project and should not define a default value`;
      if (e.value === undefined)
        return `Configuration key '${key}' is namespaced and must provide an attribute 'value'`;
    }
  }
  return undefined;
}

/** A schema default/value as a stack config value: primitives as text, the rest as JSON. */
function asConfigText(v: unknown): string {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean"
    ? String(v)
    : JSON.stringify(v);
}

/** "'a'" or "'a' and 'b'" or "'a', 'b' and 'c'", as the CLI lists missing keys (sorted). */
function listKeys(keys: string[]): string {
  const q = [...keys].sort().map((k) => `'${k}'`);
  return q.length === 1 ? q[0] : `${q.slice(0, -1).join(", ")} and ${q[q.length - 1]}`;
}

/**
 * The stack config the program and providers see, or the CLI's error. For a key typed array or
 * object, a harness string value that parses as JSON is taken as an object value (a YAML list/map
 * in Pulumi.<stack>.yaml, or `config set --path`): the harness cannot tell a JSON string from an
 * object value, the CLI can (a plain `config set k '["a"]'` is a string there and fails the type).
 */
export function applyProjectSchema(
  schema: ProjectSchema,
  stack: string,
  config: Record<string, StackConfigValue>,
): { config: Record<string, StackConfigValue>; error?: string } {
  const out: Record<string, StackConfigValue> = { ...config };
  const missing: string[] = [];
  const keys = Object.keys(schema.config).sort();
  for (const key of keys) {
    const e = schema.config[key];
    const full = fullKey(schema.name, key);
    if (full in out) continue;
    const given = e.default !== undefined ? e.default : e.value;
    if (given !== undefined) out[full] = asConfigText(given);
    else if (full.startsWith(`${schema.name}:`)) missing.push(key);
  }
  const fix = `Fix: set them (pulumi config set [--secret]), or give them a default in ${schema.file}`;
  if (missing.length) {
    const values = missing.length > 1 ? "values" : "value";
    return {
      config: out,
      error: `Stack '${stack}' is missing configuration ${values} ${listKeys(missing)}. ${fix}`,
    };
  }
  for (const key of keys) {
    const e = schema.config[key];
    const v = out[fullKey(schema.name, key)];
    if (e.type === undefined || v === undefined) continue;
    const secure = typeof v !== "string";
    if (e.secret && !secure) {
      return {
        config: out,
        error: `Stack '${stack}' with configuration key '${key}' must be encrypted as it's secret. Fix: pulumi config set --secret ${fullKey(schema.name, key)}`,
      };
    }
    const text = secure ? v.secret : v;
    let content: unknown = text;
    if (e.type === "array" || e.type === "object") {
      try {
        content = JSON.parse(text);
      } catch {
        content = text;
      }
    }
    if (!fitsType(e.type, e.items, content)) {
      return {
        config: out,
        error: `Stack '${stack}' with configuration key '${key}' must be of type '${typeName(e.type, e.items)}'. Fix: set a value of that type, or change the type in ${schema.file}`,
      };
    }
  }
  return { config: out };
}
