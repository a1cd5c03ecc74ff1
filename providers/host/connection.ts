/** The host connection model lives in providers/shared (the ZeroTier system uses it too). */
export * from "../shared/host-connection";
