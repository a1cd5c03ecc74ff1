export * from "./client";
export * from "./remote";
export { IpfsPin, type IpfsPinArgs, type IpfsPinInputs, type IpfsPinOutputs, ipfsPinProvider } from "./pin";
