/** tls:index/privateKey:PrivateKey (pulumi-tls); the key formats are in keys.ts. */
import { collectFailures, intInRange } from "../../../providers/shared/validate";
import type { Props } from "../secrets";
import type { CallContext, CheckResult } from "../provider";
import { ECDSA_CURVES, generateKey, KeyAlgorithm } from "./keys";
import { ReplaceOnAnyChange, withDefaults } from "./base";

export class TlsPrivateKey extends ReplaceOnAnyChange {
  readonly secretOutputs = ["privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"];

  async check(_ctx: CallContext, _olds: Props, news: Props): Promise<CheckResult> {
    const inputs = withDefaults(news, { rsaBits: 2048, ecdsaCurve: "P224" });
    return {
      inputs,
      failures: collectFailures([
        {
          path: "algorithm",
          value: inputs.algorithm,
          check: (v) =>
            v === "RSA" || v === "ECDSA" || v === "ED25519" ? undefined : "must be RSA, ECDSA or ED25519",
        },
        { path: "rsaBits", value: inputs.rsaBits, check: intInRange(1024, 8192) },
        {
          path: "ecdsaCurve",
          value: inputs.ecdsaCurve,
          check: (v) =>
            ECDSA_CURVES.includes(v as string) ? undefined : `must be one of ${ECDSA_CURVES.join(", ")}`,
        },
      ]),
    };
  }

  async create(_ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }> {
    const { id, ...keys } = await generateKey(
      news.algorithm as KeyAlgorithm,
      news.rsaBits as number,
      news.ecdsaCurve as string,
    );
    return { id, outputs: { ...news, ...keys } };
  }
}
