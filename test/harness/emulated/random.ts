/** random:index/randomPassword:RandomPassword and random:index/randomId:RandomId (pulumi-random). */
import * as crypto from "crypto";
import { containsUnknown } from "../../../providers/shared/dynamic";
import { collectFailures, intInRange, FieldRule } from "../../../providers/shared/validate";
import type { Props } from "../secrets";
import type { CallContext, CheckResult } from "../provider";
import { boolean, ReplaceOnAnyChange, withDefaults } from "./base";

const DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

export class RandomPassword extends ReplaceOnAnyChange {
  readonly secretOutputs = ["result", "bcryptHash"];

  async check(_ctx: CallContext, _olds: Props, news: Props): Promise<CheckResult> {
    const numeric = news.numeric ?? news.number ?? true;
    const inputs = withDefaults(news, {
      special: true,
      upper: true,
      lower: true,
      numeric,
      number: numeric,
      minUpper: 0,
      minLower: 0,
      minNumeric: 0,
      minSpecial: 0,
    });
    const rules: FieldRule[] = [{ path: "length", value: inputs.length, check: intInRange(1, 4096) }];
    for (const f of ["special", "upper", "lower", "numeric"])
      rules.push({ path: f, value: inputs[f], check: boolean });
    for (const f of ["minUpper", "minLower", "minNumeric", "minSpecial"]) {
      rules.push({ path: f, value: inputs[f], check: intInRange(0, 4096) });
    }
    const failures = collectFailures(rules);
    if (!failures.length && !containsUnknown(inputs)) {
      const mins = ["minUpper", "minLower", "minNumeric", "minSpecial"].reduce(
        (s, f) => s + (inputs[f] as number),
        0,
      );
      if (mins > (inputs.length as number)) {
        failures.push({
          property: "length",
          reason: `must be at least the sum of the min* counts (${mins})`,
        });
      }
      if (!charSets(inputs).length) {
        failures.push({
          property: "special",
          reason: "at least one of upper, lower, numeric, special must be true",
        });
      }
    }
    return { inputs, failures };
  }

  async create(_ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }> {
    const sets = charSets(news);
    const chars: string[] = [];
    for (const s of sets) for (let i = 0; i < s.min; i++) chars.push(pick(s.chars));
    const all = sets.map((s) => s.chars).join("");
    while (chars.length < (news.length as number)) chars.push(pick(all));
    for (let i = chars.length - 1; i > 0; i--) {
      const j = crypto.randomInt(i + 1);
      [chars[i], chars[j]] = [chars[j], chars[i]];
    }
    const result = chars.join("");
    const bcrypt = require("bcryptjs") as typeof import("bcryptjs");
    return { id: "none", outputs: { ...news, result, bcryptHash: bcrypt.hashSync(result, 10) } };
  }
}

function charSets(p: Props): { chars: string; min: number }[] {
  const special = typeof p.overrideSpecial === "string" ? p.overrideSpecial : DEFAULT_SPECIAL;
  return [
    { on: p.upper, chars: "ABCDEFGHIJKLMNOPQRSTUVWXYZ", min: p.minUpper },
    { on: p.lower, chars: "abcdefghijklmnopqrstuvwxyz", min: p.minLower },
    { on: p.numeric, chars: "0123456789", min: p.minNumeric },
    { on: p.special, chars: special, min: p.minSpecial },
  ]
    .filter((s) => s.on === true && s.chars.length > 0)
    .map((s) => ({ chars: s.chars, min: Number(s.min) || 0 }));
}

function pick(chars: string): string {
  return chars[crypto.randomInt(chars.length)];
}

export class RandomId extends ReplaceOnAnyChange {
  readonly secretOutputs = [];

  async check(_ctx: CallContext, _olds: Props, news: Props): Promise<CheckResult> {
    const inputs = withDefaults(news, {});
    return {
      inputs,
      failures: collectFailures([
        { path: "byteLength", value: inputs.byteLength, check: intInRange(1, 1024) },
        {
          path: "prefix",
          value: inputs.prefix,
          check: (v) => (typeof v === "string" ? undefined : "must be a string"),
          optional: true,
        },
      ]),
    };
  }

  async create(_ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }> {
    const bytes = crypto.randomBytes(news.byteLength as number);
    const prefix = typeof news.prefix === "string" ? news.prefix : "";
    const b64Url = bytes.toString("base64url");
    return {
      id: b64Url,
      outputs: {
        ...news,
        b64Std: prefix + bytes.toString("base64"),
        b64Url: prefix + b64Url,
        hex: prefix + bytes.toString("hex"),
        dec: prefix + BigInt("0x" + bytes.toString("hex")).toString(10),
      },
    };
  }
}
