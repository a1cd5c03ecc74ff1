/**
 * The services the testbed runs beside its hosts. `npm run testbed -- up` (and `ensureTestbed`)
 * brings them up in this order after the hosts; `down` stops them in reverse order before the hosts.
 *
 * To add yours: write a module exporting a `TestbedService` (name, up, down, status; each idempotent,
 * see types.ts and README.md), import it here and append it to the list. Nothing else to wire.
 */
import type { TestbedService } from "./types";
import { zerotierService } from "./zerotier/service";
import { libvirtService } from "./libvirt";
import { core0Service } from "./core0-emulator/service";

export const services: TestbedService[] = [zerotierService, libvirtService, core0Service];
