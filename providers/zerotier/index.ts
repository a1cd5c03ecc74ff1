/** ZeroTier: the API client, the node-side helpers and the two dynamic resources. */
export * from "./client";
export * from "./node";
export { type ZerotierConnectionInputs } from "./common";
export {
  ZerotierNetwork,
  type ZerotierNetworkArgs,
  zerotierNetworkProvider,
  checkNetworkInputs,
} from "./network";
export { ZerotierMember, type ZerotierMemberArgs, zerotierMemberProvider, checkMemberInputs } from "./member";
