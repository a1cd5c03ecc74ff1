/**
 * Hashes shared by the providers. Plain module: no Pulumi imports (dynamic providers inline it).
 */

/** Hex sha256 of a UTF-8 string. `crypto` is required inside, so serialized callers work. */
export function sha256(text: string): string {
  const crypto = require("crypto") as typeof import("crypto");
  return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}
