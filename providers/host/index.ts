/** A Linux host managed over SSH: authorised keys, ufw lockdown, its ZeroTier identity. (Joining a host to ZeroTier: providers/zerotier.) */
export * from "./connection";
export { AuthorizedKeys, authorizedKeysProvider, type AuthorizedKeysArgs } from "./authorized-keys";
export { ZerotierOnlySsh, zerotierOnlySshProvider, type ZerotierOnlySshArgs } from "./firewall";
export {
  ZerotierIdentity,
  zerotierIdentityProvider,
  LEGACY_IDENTITY_TYPE,
  type ZerotierIdentityArgs,
} from "./zerotier-identity";
