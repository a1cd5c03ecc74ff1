/** Content hashes shared by the workflows. Plain module (captured by provider methods). */

/** Hex sha256 of `text` (UTF-8). `crypto` is required inside so a serialized provider loads it. */
export function sha256(text: string): string {
  const crypto = require("crypto") as typeof import("crypto");
  return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}
