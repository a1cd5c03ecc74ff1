/**
 * The cockpit config's key checker: reads typed values under a key prefix, collects every failure
 * (key, problem, fix) instead of stopping at the first, and reports unknown keys.
 */
import { InputError } from "../providers/shared/errors";

export type Obj = Record<string, unknown>;

export class Checker {
  readonly failures: InputError[] = [];
  constructor(private readonly file: string) {}
  fail(key: string, problem: string, fix: string): undefined {
    this.failures.push(new InputError(`cockpit config ${this.file}`, key, problem, fix));
    return undefined;
  }
  obj(v: unknown, key: string, required: boolean): Obj | undefined {
    if (v === undefined && !required) return {};
    if (!v || typeof v !== "object" || Array.isArray(v))
      return this.fail(
        key,
        v === undefined ? "is missing" : "is not a mapping",
        `set ${key} as a mapping of keys`,
      );
    return v as Obj;
  }
  str(o: Obj, key: string, prefix: string, dflt?: string): string | undefined {
    const v = o[key];
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== "string" || !v.trim())
      return this.fail(
        `${prefix}${key}`,
        v === undefined ? "is missing" : "is not a non-empty string",
        `set ${prefix}${key}`,
      );
    return v;
  }
  int(o: Obj, key: string, prefix: string, dflt: number, min: number, max: number): number | undefined {
    const v = o[key] ?? dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      return this.fail(
        `${prefix}${key}`,
        `is not a whole number from ${min} to ${max}`,
        `set ${prefix}${key} to e.g. ${dflt}`,
      );
    }
    return v;
  }
  url(o: Obj, key: string, prefix: string, required: boolean): string | undefined {
    const v = o[key];
    if (v === undefined && !required) return undefined;
    if (typeof v !== "string" || !/^https?:\/\/[^\s/]+/.test(v))
      return this.fail(
        `${prefix}${key}`,
        v === undefined ? "is missing" : "is not an http(s) URL",
        `set ${prefix}${key} to e.g. https://id.example.org/...`,
      );
    return v;
  }
  unknown(o: Obj, known: string[], prefix: string): void {
    for (const k of Object.keys(o))
      if (!known.includes(k))
        this.fail(
          `${prefix}${k}`,
          "is not a cockpit config key",
          `remove it; known here: ${known.join(", ")}`,
        );
  }
}
