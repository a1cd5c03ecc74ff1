/**
 * Small network probes used to verify what a change achieved (e.g. "SSH on the public address is
 * now refused"). Plain module: no Pulumi imports.
 */
import { trace } from "./trace";

/** "open" if a TCP connection is accepted within the timeout, else "refused" or "timeout". */
export function tcpProbe(
  host: string,
  port: number,
  timeoutMs = 3000,
): Promise<"open" | "refused" | "timeout"> {
  const net = require("net") as typeof import("net");
  trace({ system: "tcp", op: "probe", write: false, target: host });
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (r: "open" | "refused" | "timeout") => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () => done("timeout"));
    sock.once("connect", () => done("open"));
    sock.once("error", () => done("refused"));
  });
}
