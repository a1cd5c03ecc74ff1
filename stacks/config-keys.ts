/** The key-source keys of the build config: where the SSH key group's public keys come from. */
import {
  httpUrl,
  itsyouonlineOrganization,
  noSurroundingSpaces,
  opensshPublicKey,
  type Validator,
} from "../providers/shared/validate";
import type { ConfigReader } from "./config-reader";
import type { KeySourceSettings } from "./config-types";

/** A user name of a keys-url source: one path segment, no blanks around it. */
const keysUser: Validator = (v) =>
  noSurroundingSpaces(v) ??
  (typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,98}$/.test(v)
    ? undefined
    : "is not a user name (letters, digits, '_', '.', '-')");

/** Reads g8os:keySource and the keys its kind needs; problems go to `r`. */
export function readKeySource(r: ConfigReader): KeySourceSettings {
  const source = r.string("keySource", { default: "itsyouonline" })!;
  const inline =
    r.list("keyInline", { example: ["ssh-ed25519 AAAA... alice@laptop"], check: opensshPublicKey(2048) }) ??
    [];
  if (source === "itsyouonline") {
    return {
      kind: "itsyouonline",
      baseUrl: r.string("keySourceUrl", {
        check: httpUrl,
        example: "https://itsyou.online",
        default: "https://itsyou.online",
      })!,
      organization: r.string("keyOrganization", {
        check: itsyouonlineOrganization,
        example: "gig_build",
        default: "gig_build",
      })!,
      clientId:
        r.string("itsyouonlineClientId", {
          required: true,
          example: "<client id>",
          check: noSurroundingSpaces,
        }) ?? "",
      clientSecret: r.secret("itsyouonlineClientSecret", {
        required: true,
        what: "ItsYou.online client secret",
      }),
      extraKeys: inline,
    };
  } else if (source === "keys-url") {
    const users = r.list("keyUsers", { example: ["alice", "bob"], check: keysUser }) ?? [];
    if (users.length === 0)
      r.add(
        "keyUsers",
        "must list at least one user for keySource keys-url",
        `\`pulumi config set g8os:keyUsers '["alice", "bob"]'\``,
      );
    return {
      kind: "keys-url",
      baseUrl:
        r.string("keySourceUrl", { required: true, example: "https://github.com", check: httpUrl }) ?? "",
      users,
      extraKeys: inline,
    };
  } else if (source === "inline") {
    if (inline.length === 0 && !r.isSet("keyInline"))
      r.add(
        "keyInline",
        "must list at least one public key for keySource inline",
        `\`pulumi config set g8os:keyInline '["ssh-ed25519 AAAA... alice@laptop"]'\``,
      );
    return { kind: "inline", keys: inline };
  }
  r.add("keySource", `is "${source}"`, 'use "itsyouonline", "keys-url" or "inline"');
  return { kind: "inline", keys: inline };
}
