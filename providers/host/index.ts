/** A Linux host managed over SSH: authorised keys, ZeroTier membership, ufw lockdown. */
export * from "./connection";
export { AuthorizedKeys, authorizedKeysProvider, type AuthorizedKeysArgs } from "./authorized-keys";
export {
  ZerotierHostJoin,
  zerotierHostJoinProvider,
  DEFAULT_ZEROTIER_INSTALL,
  type ZerotierHostJoinArgs,
} from "./zerotier-join";
export { ZerotierOnlySsh, zerotierOnlySshProvider, type ZerotierOnlySshArgs } from "./firewall";
export {
  ZerotierIdentity,
  zerotierIdentityProvider,
  LEGACY_IDENTITY_TYPE,
  type ZerotierIdentityArgs,
} from "./zerotier-identity";
