/** ZeroTier: the API client, the node-side helpers and the two dynamic resources. */
export * from "./client";
export * from "./node";
export {
  ZerotierHostJoin,
  zerotierHostJoinProvider,
  DEFAULT_ZEROTIER_INSTALL,
  type ZerotierHostJoinArgs,
} from "./host-join";
export { type ZerotierConnectionInputs } from "./common";
export {
  ZerotierNetwork,
  type ZerotierNetworkArgs,
  zerotierNetworkProvider,
  checkNetworkInputs,
} from "./network";
export { ZerotierMember, type ZerotierMemberArgs, zerotierMemberProvider, checkMemberInputs } from "./member";
