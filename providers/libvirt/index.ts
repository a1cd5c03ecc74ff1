/** libvirt/KVM over SSH: the plain client and the dynamic resources. */
export * from "./client";
export * from "./preflight";
export { LibvirtVolume, volumeProvider, type LibvirtVolumeArgs } from "./volume";
export { CloudInitSeed, seedProvider, seedContentHash, seedMetaData, type CloudInitSeedArgs } from "./seed";
export {
  LibvirtDomain,
  domainProvider,
  MIN_MEMORY_MIB,
  type LibvirtDomainArgs,
  type AddressSource,
} from "./domain";
export {
  KvmHostSetup,
  hostSetupProvider,
  networkXml,
  KVM_PACKAGES,
  type KvmHostSetupArgs,
  type HostNetworkSpec,
} from "./host-setup";
