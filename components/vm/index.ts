/** The build environment's VMs on a KVM host: build node, cockpit (UbuntuVm) and core0 test nodes (Core0Vm). */
export { UbuntuVm, type UbuntuVmArgs, type UbuntuVmRole } from "./ubuntu";
export { Core0Vm, type Core0VmArgs } from "./core0";
export { imageVolume, type VmExtraNic, type VmHostRef, type VmZerotierArgs } from "./common";
export {
  VM_ADDRESS_OFFSETS,
  offsetIPv4,
  deriveHostKey,
  ubuntuUserData,
  core0SeedUserData,
  core0Cmdline,
  zerotierNodeId,
} from "./cloud-init";
