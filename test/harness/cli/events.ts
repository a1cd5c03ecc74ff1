/**
 * The engine-event stream the Automation API reads (`--event-log`): one JSON `EngineEvent` per line
 * in a file for CLIs up to 3.205.0, or, when the target is `tcp://host:port` (the SDK's choice for
 * newer CLIs, automation/stack.js `setupEventLog`), each event as `EventRequest.event` on the
 * `pulumirpc.Events/StreamEvents` client stream. Event shapes: pulumi/pulumi
 * sdk/go/common/apitype/events.go (at 1b5949891b); the SDK's view: automation/events.d.ts.
 */
import * as fs from "fs";

export type EngineEvent = Record<string, unknown>;

export class EventSink {
  private seq = 0;
  private fd?: number;
  private call?: { write(m: unknown): boolean; end(): void };
  private client?: { close(): void };
  private done?: Promise<void>;

  private constructor() {}

  static async open(target: string | undefined): Promise<EventSink> {
    const sink = new EventSink();
    if (!target) return sink;
    if (target.startsWith("tcp://")) {
      const grpc = require("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
      const services = require("@pulumi/pulumi/proto/events_grpc_pb") as {
        EventsClient: new (
          addr: string,
          creds: unknown,
        ) => {
          streamEvents(cb: (err: Error | null) => void): { write(m: unknown): boolean; end(): void };
          close(): void;
          waitForReady(deadline: number, cb: (err?: Error) => void): void;
        };
      };
      const addr = target.slice("tcp://".length);
      const client = new services.EventsClient(addr, grpc.credentials.createInsecure());
      await new Promise<void>((resolve, reject) =>
        client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
      );
      sink.client = client;
      sink.done = new Promise<void>((resolve) => {
        sink.call = client.streamEvents(() => resolve());
      });
    } else {
      sink.fd = fs.openSync(target, "a");
    }
    return sink;
  }

  emit(body: EngineEvent): void {
    const event = { sequence: this.seq++, timestamp: Math.floor(Date.now() / 1000), ...body };
    const line = JSON.stringify(event);
    if (this.fd !== undefined) fs.writeSync(this.fd, line + "\n");
    if (this.call) {
      const pb = require("@pulumi/pulumi/proto/events_pb") as {
        EventRequest: new () => { setEvent(s: string): void };
      };
      const req = new pb.EventRequest();
      req.setEvent(line);
      this.call.write(req);
    }
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    if (this.call) {
      this.call.end();
      await Promise.race([this.done, new Promise((r) => setTimeout(r, 5000))]);
      this.client?.close();
      this.call = undefined;
    }
  }
}
