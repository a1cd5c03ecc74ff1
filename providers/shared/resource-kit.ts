/**
 * The resource kit: a dynamic resource declares each input field once, as plain data and
 * functions, and gets from that declaration what every provider used to write by hand:
 * `check` (every failure at once, `InputError`-style: resource label, field, problem, fix),
 * normalisation (defaults), `diff` (replaces plus the name of every changed field), the list of
 * secret names, and the `Inputs` type. The `Args` type and the base `Resource` class live in
 * `./kit-resource.ts`, the one kit file that imports `@pulumi/*`; this file and the provider
 * methods that use it stay Pulumi-free, because dynamic providers are serialized by value.
 *
 * Usage (see providers/ipfs/pin.ts):
 * ```ts
 * const fields = {
 *   /** IPFS RPC API base URL, e.g. http://127.0.0.1:5001. *\/
 *   apiUrl: required<string>({ validate: httpUrl, change: "replace" }),
 *   /** Pin the whole DAG. Default true. *\/
 *   recursive: withDefault(true, { validate: isBool }),
 * };
 * const kit = declareResource({ kind: "IpfsPin", module: "ipfs", type: "Pin", fields });
 * // provider: check: async (_o, n) => kit.check(n); diff: async (_id, o, n) => kit.diff(o, n)
 * // class IpfsPin extends KitResource { constructor(...) { super(kit, provider, name, props, opts) } }
 * // export type IpfsPinArgs = KitArgs<typeof fields>;
 * ```
 * A field's doc comment is written once, on its property in the `fields` object; `KitArgs` and
 * `KitInputs` are mapped types over that object, so editors show the same comment on the derived
 * properties (test/unit/resource-kit.test.ts checks it with the compiler API).
 *
 * Hooks for what is specific to one resource: `rules` (cross-field and nested checks, run after the
 * field checks), `normalise` (after defaults), and `diff(olds, news, extra)` takes extra field
 * names (outputs compared as well, e.g. values fetched from a source).
 *
 * Serialization: the declaration and the kit object are plain objects holding plain values and
 * functions (no classes, no module-level Set/Map), so a provider method capturing `kit` serializes.
 *
 * Why no validation library: node_modules holds `ajv` and `joi` only as transitive dependencies of
 * other packages (not ours to pin), neither is a dependency of this project, and both produce their
 * own wording, while the reasons users and tests see are those of `./validate.ts`. The kit reuses
 * those validators instead (a library required inside the methods would serialize, but would change
 * every message and add a dependency to state's `__provider` text).
 */
import { type CheckFailure, resourceLabel } from "./errors";
import { containsUnknown, diffFields, plainOutputs, type FieldDiff } from "./dynamic";
import { collectFailures, withFix, type Validator } from "./validate";

/** What a change of a field does: update in place, replace the remote object, or nothing. */
export type ChangeKind = "update" | "replace" | "none";

/** One declared input field. `T` is the value type (phantom: carried for the derived types only). */
export interface FieldSpec<T> {
  /** Checks a known, present value; a reason (what a good value looks like) or undefined when fine. */
  readonly validate?: Validator;
  /**
   * What a failure of this field tells the user to do, e.g. "set token to a Central API token".
   * Default: derived from the validator's wording ("must be X" -> "set <field> to X"), see
   * `withFix` in ./validate.ts.
   */
  readonly fix?: string;
  /** True: check fails when the value is missing (after the constructor filled its own defaults). */
  readonly required: boolean;
  /**
   * Plain JSON value used when the input is undefined or null; copied, never shared. Not named
   * `default`: Pulumi's closure serializer (pulumi/pulumi sdk/nodejs/runtime/closure/createClosure.ts,
   * `isImportStarResult`) takes any object with a `default` key for an `import *` wrapper and runs
   * `k in obj.default`, which throws "Cannot use 'in' operator" for a primitive default.
   */
  readonly defaultValue?: T;
  /** What a change of this field does. Default "update". */
  readonly change?: ChangeKind;
  /**
   * true: wrapped with pulumi.secret by the base class and listed in additionalSecretOutputs (the
   * outputs echo it). "input": wrapped only (the outputs do not hold it). Default false.
   */
  readonly secret?: boolean | "input";
  /** Never set at run time: keeps `T` for the derived types. */
  readonly __type?: T;
}

/** A field the caller must give (or the constructor fills). */
export interface RequiredField<T> extends FieldSpec<T> {
  readonly required: true;
}

/** A field the caller may leave out. */
export interface OptionalField<T> extends FieldSpec<T> {
  readonly required: false;
}

type Spec<T> = Omit<FieldSpec<T>, "required" | "__type">;

/** Declares a required field. */
export function required<T>(spec: Spec<T> = {}): RequiredField<T> {
  return { ...spec, required: true };
}

/** Declares an optional field. */
export function optional<T>(spec: Spec<T> = {}): OptionalField<T> {
  return { ...spec, required: false };
}

/** A field with a default: optional in `Args`, present in the checked `Inputs`. */
export interface DefaultedField<T> extends OptionalField<T> {
  readonly defaultValue: T;
}

/** Declares an optional field that check fills with `value` (a plain JSON value) when missing. */
export function withDefault<T>(value: T, spec: Omit<Spec<T>, "defaultValue"> = {}): DefaultedField<T> {
  return { ...spec, required: false, defaultValue: value };
}

/** A resource's fields: name -> declaration. */
export type Fields = Record<string, FieldSpec<unknown>>;

/** The value type of a field declaration. */
export type FieldValue<F> = F extends FieldSpec<infer T> ? T : never;

/** Keys present after check: required fields and those with a default. */
type PresentKeys<F extends Fields> = {
  [K in keyof F]: F[K] extends { required: true } ? K : F[K] extends { defaultValue: unknown } ? K : never;
}[keyof F];

/** The checked (normalised) inputs: required and defaulted fields present, others optional. */
export type KitInputs<F extends Fields> = {
  [K in keyof F as K extends PresentKeys<F> ? K : never]: FieldValue<F[K]>;
} & {
  [K in keyof F as K extends PresentKeys<F> ? never : K]?: FieldValue<F[K]>;
};

/** A `rules` failure: a check failure, optionally with its fix apart (the kit joins them). */
export interface RuleFailure extends CheckFailure {
  /** What to do, e.g. "remove remote.replicationMin"; default derived from the reason. */
  fix?: string;
}

/** The check result in the dynamic-provider shape. */
export interface KitCheckResult {
  inputs: Record<string, unknown>;
  failures: CheckFailure[];
}

/** A FieldDiff plus the changed fields as `detailedDiff`-shaped data (kind per field). */
export interface KitDiff extends FieldDiff {
  /** Changed field -> "update" or "replace" (the engine's detailedDiff kinds). */
  detailedDiff: Record<string, { kind: "update" | "replace" }>;
}

/** Extra names for one diff call: outputs compared as well (e.g. values fetched from the source). */
export interface DiffExtra {
  update?: readonly string[];
  replace?: readonly string[];
}

/** What a resource declares. Plain data and functions only (it is serialized with the provider). */
export interface ResourceDeclaration<F extends Fields> {
  /** Resource kind for messages, e.g. `IpfsPin` (labels read `IpfsPin "name"`). */
  readonly kind: string;
  /** Type-token module: `pulumi-nodejs:dynamic/<module>:<type>`. Never change it (URNs). */
  readonly module: string;
  /** Type-token type. Never change it (URNs). */
  readonly type: string;
  /** The input fields. */
  readonly fields: F;
  /** Output-only names the base class seeds as undefined (so they exist on the resource). */
  readonly outputs?: readonly string[];
  /** Output names that are secret besides the secret fields (additionalSecretOutputs). */
  readonly secretOutputs?: readonly string[];
  /** The input whose value names the resource in messages. Default "name". */
  readonly labelField?: string;
  /** Instead of `labelField`: builds the name part of the label from the inputs or outputs. */
  readonly labelOf?: (i: Record<string, unknown>) => string;
  /** Delete the old object before creating its replacement (unique names on the remote side). */
  readonly deleteBeforeReplace?: boolean;
  /**
   * Cross-field and nested checks, run after the field checks (their failures come after). Each
   * reason ends in a fix: written in the reason (`problem. Fix: ...`), given as `fix`, or derived
   * from the wording (`withFix` in ./validate.ts).
   */
  readonly rules?: (news: Record<string, unknown>) => RuleFailure[];
  /** Runs on the defaulted inputs of a successful check (sorting, derived values). */
  readonly normalise?: (inputs: Record<string, unknown>) => Record<string, unknown>;
}

/** What `declareResource` returns: the declaration plus the derived provider-side functions. */
export interface ResourceKit<F extends Fields> {
  readonly decl: ResourceDeclaration<F>;
  /** `Kind "name"`, from the label field of any inputs or outputs ("?" when it is not a string). */
  label(i: Record<string, unknown> | object): string;
  /** Every failure of the field checks and the `rules` hook; normalised inputs when there is none. */
  check(news: Record<string, unknown> | object): KitCheckResult;
  /**
   * A new object with the declared fields only (outputs and `__provider` are not inputs), defaults
   * (copied) for undefined/null ones, then the `normalise` hook.
   */
  normalise(i: Record<string, unknown> | object): Record<string, unknown>;
  /** Old outputs against new inputs: replace fields, update fields, plus `extra`. Unknown = change. */
  diff(
    olds: Record<string, unknown> | object,
    news: Record<string, unknown> | object,
    extra?: DiffExtra,
  ): KitDiff;
  /** Names of the secret fields and declared secret outputs. */
  secretNames(): string[];
}

/** The fix for an unvalidated label field: the constructor passes the resource's name there. */
function labelFix(field: string): string {
  return `set ${field} to the resource's name (the resource's constructor passes it)`;
}

function copy<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Derives check, normalise, diff and the secret names from a declaration. */
export function declareResource<F extends Fields>(decl: ResourceDeclaration<F>): ResourceKit<F> {
  const names = Object.keys(decl.fields);
  const byChange = (kind: ChangeKind) => names.filter((n) => (decl.fields[n].change ?? "update") === kind);
  const kit: ResourceKit<F> = {
    decl,
    label(i) {
      if (decl.labelOf) return resourceLabel(decl.kind, decl.labelOf(i as Record<string, unknown>));
      const v = (i as Record<string, unknown>)[decl.labelField ?? "name"];
      return resourceLabel(decl.kind, typeof v === "string" ? v : "?");
    },
    normalise(i) {
      const src = i as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const n of names) {
        const d = decl.fields[n].defaultValue;
        out[n] = (src[n] === undefined || src[n] === null) && d !== undefined ? copy(d) : src[n];
      }
      return decl.normalise ? decl.normalise(out) : out;
    },
    check(raw) {
      const news = raw as Record<string, unknown>;
      const failures = collectFailures(
        names.map((n) => {
          const f = decl.fields[n];
          return {
            path: n,
            value: news[n],
            check: f.validate ?? (() => undefined),
            optional: !f.required,
            fix: f.fix ?? (f.validate || n !== (decl.labelField ?? "name") ? undefined : labelFix(n)),
          };
        }),
      );
      for (const r of decl.rules ? decl.rules(news) : [])
        failures.push({ property: r.property, reason: withFix(r.property, r.reason, { fix: r.fix }) });
      if (failures.length > 0 || containsUnknown(news)) return { inputs: news, failures };
      return { inputs: plainOutputs(kit.normalise(news)), failures };
    },
    diff(olds, news, extra) {
      const d = diffFields(olds as Record<string, unknown>, news as Record<string, unknown>, {
        replaceOn: [...byChange("replace"), ...(extra?.replace ?? [])],
        updateOn: [...byChange("update"), ...(extra?.update ?? [])],
        deleteBeforeReplace: decl.deleteBeforeReplace,
      });
      const detailedDiff: KitDiff["detailedDiff"] = {};
      for (const c of d.changed) detailedDiff[c] = { kind: d.replaces.includes(c) ? "replace" : "update" };
      return { ...d, detailedDiff };
    },
    secretNames() {
      const s = names.filter((n) => decl.fields[n].secret === true);
      for (const o of decl.secretOutputs ?? []) if (!s.includes(o)) s.push(o);
      return s;
    },
  };
  return kit;
}
