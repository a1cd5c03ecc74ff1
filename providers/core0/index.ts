export * from "./client";
export { Core0Node, type Core0NodeArgs, core0NodeProvider } from "./node";
export {
  Core0Container,
  type Core0ContainerArgs,
  type ContainerBridge,
  type StartCommand,
  type ProcessStatus,
  core0ContainerProvider,
} from "./container";
