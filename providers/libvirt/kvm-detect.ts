/**
 * KVM detection: what the host offers and the `domainType: "auto"` decision.
 * Plain module (inlined into the serialized providers): no Pulumi imports.
 */

/** Virtualisation type of a domain: `kvm` (hardware acceleration) or `qemu` (TCG emulation). */
export type DomainType = "kvm" | "qemu";
/** What the user asks for: `auto` = detect on the host (see `detectDomainType`). */
export type DomainTypeSetting = DomainType | "auto";

export interface KvmProbe {
  /** /dev/kvm exists. */
  devKvm: boolean;
  /** The CPU advertises VT-x/AMD-V (vmx/svm flag). */
  cpuVirt: boolean;
  /** The host is itself a VM (cpuinfo `hypervisor` flag): nested KVM, which hangs here. */
  nested: boolean;
  /** libvirt offers domain type kvm (`virsh domcapabilities --virttype kvm` succeeds). */
  libvirtKvm: boolean;
}

/**
 * The decision for `domainType: "auto"`: KVM only on bare metal with /dev/kvm, VT-x/AMD-V and
 * libvirt's KVM support. A nested host (itself a VM) gets TCG: on such hosts a type='kvm' guest
 * starts and then spins without output (facts/libvirt.md), and a failed guest is worse than a
 * slow one. Users whose nested virtualisation works set `domainType: "kvm"` explicitly.
 */
export function decideDomainType(p: KvmProbe): { domainType: DomainType; reason: string } {
  if (!p.devKvm) return { domainType: "qemu", reason: "/dev/kvm does not exist" };
  if (!p.cpuVirt) return { domainType: "qemu", reason: "the CPU shows no vmx/svm flag" };
  if (p.nested)
    return {
      domainType: "qemu",
      reason:
        "the host is itself a virtual machine (nested KVM is unreliable); set domainType 'kvm' to force",
    };
  if (!p.libvirtKvm) return { domainType: "qemu", reason: "libvirt reports no kvm domain support" };
  return { domainType: "kvm", reason: "bare-metal host with /dev/kvm and VT-x/AMD-V" };
}
