/**
 * Go `encoding/json` as core0 v0.9.0 (built with go1.7, see its Godeps/Godeps.json) applies it to
 * the wire: decoding into typed Go structs (type mismatches are errors, object keys match field
 * names exactly first and then case-insensitively, `null` leaves a field unchanged, integers must be
 * integer literals in range, `[]byte` is base64) and encoding (`<`, `>`, `&`, U+2028/9 escaped,
 * map keys sorted). Written from the Go documentation of encoding/json; no product code.
 */

/** A JSON number kept as its source text, so integer rules can be checked as Go does. */
export class GoNumber {
  constructor(readonly source: string) {}
}

/** A Go map when encoding: keys are written sorted (encoding/json sorts map keys). */
export class GoMap {
  constructor(readonly entries: Array<[string, unknown]>) {}
}

/** A Go type the decoder knows: enough for the v0.9.0 command and argument structs. */
export type GoType =
  | { kind: "string" }
  | { kind: "bool" }
  | { kind: "int"; name: "int" | "int64" | "uint16" | "uint64" }
  | { kind: "bytes" }
  | { kind: "raw" }
  | { kind: "any" }
  | { kind: "slice"; elem: GoType; name: string }
  | { kind: "array"; elem: GoType; len: number; name: string }
  | { kind: "map"; key: "string" | "int"; value: GoType; name: string }
  | { kind: "struct"; name: string; fields: Array<[string, GoType]> };

export const T = {
  string: { kind: "string" } as GoType,
  bool: { kind: "bool" } as GoType,
  int: { kind: "int", name: "int" } as GoType,
  uint16: { kind: "int", name: "uint16" } as GoType,
  uint64: { kind: "int", name: "uint64" } as GoType,
  bytes: { kind: "bytes" } as GoType,
  raw: { kind: "raw" } as GoType,
  any: { kind: "any" } as GoType,
};

/** Parses JSON text keeping numbers as GoNumber (source text); throws SyntaxError like Go would fail. */
export function parseJson(text: string): unknown {
  return JSON.parse(text, function (this: unknown, _key: string, value: unknown, ctx?: { source?: string }) {
    if (typeof value === "number") return new GoNumber(ctx?.source ?? String(value));
    return value;
  });
}

/** Turns GoNumbers back into plain numbers (for `interface{}` / RawMessage consumers). */
export function plain(v: unknown): unknown {
  if (v instanceof GoNumber) return Number(v.source);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

function jsonKind(v: unknown): string {
  if (v instanceof GoNumber) return "number";
  if (Array.isArray(v)) return "array";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  return "object";
}

function typeName(t: GoType): string {
  switch (t.kind) {
    case "string":
    case "bool":
      return t.kind;
    case "int":
      return t.name;
    case "bytes":
      return "[]uint8";
    case "raw":
      return "json.RawMessage";
    case "any":
      return "interface {}";
    default:
      return t.name;
  }
}

const INT_RANGE: Record<string, [bigint, bigint]> = {
  int: [-(2n ** 63n), 2n ** 63n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint16: [0n, 65535n],
  uint64: [0n, 2n ** 64n - 1n],
};

/** Go's base64.StdEncoding.Decode: padding required, CR/LF ignored, anything else is corrupt input. */
export function goBase64(s: string): { value?: Buffer; error?: string } {
  const clean = s.replace(/[\r\n]/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) {
    // Go reports the offset of the first bad quantum; the emulator only logs this text.
    const bad = clean.search(/[^A-Za-z0-9+/=]/);
    return {
      error: `illegal base64 data at input byte ${bad >= 0 ? bad : clean.length - (clean.length % 4)}`,
    };
  }
  return { value: Buffer.from(clean, "base64") };
}

interface DecodeState {
  error?: string;
}

function typeError(st: DecodeState, what: string, t: GoType): undefined {
  st.error ??= `json: cannot unmarshal ${what} into Go value of type ${typeName(t)}`;
  return undefined;
}

/** Looks up a struct field for a JSON key: exact name first, then case-insensitive (as Go does). */
function fieldFor(fields: Array<[string, GoType]>, key: string): [string, GoType] | undefined {
  return fields.find(([n]) => n === key) ?? fields.find(([n]) => n.toLowerCase() === key.toLowerCase());
}

/**
 * Decodes `v` (from parseJson) into Go type `t`, starting from `into` (the field's current value,
 * which `null` leaves unchanged). Records the first error in `st` and keeps going, like Go.
 */
function decode(v: unknown, t: GoType, st: DecodeState, into?: unknown): unknown {
  if (v === null) return into;
  switch (t.kind) {
    case "any":
      return plain(v);
    case "raw":
      return v;
    case "string":
      return typeof v === "string" ? v : (typeError(st, jsonKind(v), t), into);
    case "bool":
      return typeof v === "boolean" ? v : (typeError(st, jsonKind(v), t), into);
    case "int": {
      if (!(v instanceof GoNumber)) return (typeError(st, jsonKind(v), t), into);
      const [lo, hi] = INT_RANGE[t.name];
      if (!/^-?\d+$/.test(v.source) || BigInt(v.source) < lo || BigInt(v.source) > hi)
        return (typeError(st, `number ${v.source}`, t), into);
      return Number(v.source);
    }
    case "bytes": {
      if (typeof v !== "string") return (typeError(st, jsonKind(v), t), into);
      const b = goBase64(v);
      if (b.error) {
        st.error ??= b.error;
        return into;
      }
      return b.value;
    }
    case "slice": {
      if (!Array.isArray(v)) return (typeError(st, jsonKind(v), t), into);
      return v.map((x) => decode(x, t.elem, st, zero(t.elem)));
    }
    case "array": {
      if (!Array.isArray(v)) return (typeError(st, jsonKind(v), t), into);
      return Array.from({ length: t.len }, (_, i) =>
        i < v.length ? decode(v[i], t.elem, st, zero(t.elem)) : zero(t.elem),
      );
    }
    case "map": {
      if (typeof v !== "object" || Array.isArray(v) || v instanceof GoNumber)
        return (typeError(st, jsonKind(v), t), into);
      const out: Array<[string | number, unknown]> = Array.isArray(into) ? [...into] : [];
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        let key: string | number = k;
        if (t.key === "int") {
          if (!/^-?\d+$/.test(k) || BigInt(k) < INT_RANGE.int[0] || BigInt(k) > INT_RANGE.int[1]) {
            st.error ??= `json: cannot unmarshal number ${k} into Go value of type int`;
            return out; // Go stops decoding this object at a bad key
          }
          key = Number(k);
        }
        const i = out.findIndex(([ok]) => ok === key);
        const val = decode(x, t.value, st, zero(t.value));
        if (i >= 0) out[i] = [key, val];
        else out.push([key, val]);
      }
      return out;
    }
    case "struct": {
      if (typeof v !== "object" || Array.isArray(v) || v instanceof GoNumber)
        return (typeError(st, jsonKind(v), t), into);
      const out: Record<string, unknown> = { ...((into as Record<string, unknown>) ?? zeroStruct(t)) };
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const f = fieldFor(t.fields, k);
        if (!f) continue; // unknown fields are ignored
        out[f[0]] = decode(x, f[1], st, out[f[0]]);
      }
      return out;
    }
  }
}

function zero(t: GoType): unknown {
  switch (t.kind) {
    case "string":
      return "";
    case "bool":
      return false;
    case "int":
      return 0;
    case "struct":
      return zeroStruct(t);
    case "array":
      return Array.from({ length: t.len }, () => zero(t.elem));
    default:
      return undefined; // nil slices, maps, []byte, RawMessage, interface{}
  }
}

function zeroStruct(t: Extract<GoType, { kind: "struct" }>): Record<string, unknown> {
  return Object.fromEntries(t.fields.map(([n, ft]) => [n, zero(ft)]));
}

/** json.Unmarshal(text or parsed value, &T{}): the value (zero where absent) and Go's first error. */
export function unmarshal<R>(input: string | unknown, t: GoType): { value: R; error?: string } {
  let v: unknown = input;
  if (typeof input === "string") {
    try {
      v = parseJson(input);
    } catch (err) {
      return { value: zero(t) as R, error: `invalid character in JSON: ${(err as Error).message}` };
    }
  }
  const st: DecodeState = {};
  const value = decode(v, t, st, zero(t));
  return { value: (value === undefined ? zero(t) : value) as R, error: st.error };
}

/** Escapes as Go's encoder does on top of JSON.stringify: HTML-safe and U+2028/9. */
function goEscape(s: string): string {
  return s.replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/** json.Marshal: objects keep their (struct field) order, GoMap keys are sorted, undefined = null. */
export function marshal(v: unknown): string {
  if (v === undefined || v === null) return "null";
  if (v instanceof GoNumber) return v.source;
  if (v instanceof GoMap) {
    const sorted = [...v.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return "{" + sorted.map(([k, x]) => goEscape(JSON.stringify(k)) + ":" + marshal(x)).join(",") + "}";
  }
  if (Buffer.isBuffer(v)) return JSON.stringify(v.toString("base64"));
  if (Array.isArray(v)) return "[" + v.map(marshal).join(",") + "]";
  if (typeof v === "object") {
    const parts = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => goEscape(JSON.stringify(k)) + ":" + marshal(x));
    return "{" + parts.join(",") + "}";
  }
  if (typeof v === "string") return goEscape(JSON.stringify(v));
  return JSON.stringify(v);
}
