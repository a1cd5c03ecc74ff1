/**
 * Helpers shared by the Core0Node and Core0Container providers: the connection shape, and turning
 * client errors into errors that name the resource's fields. (Each resource declares its
 * connection fields itself, with the resource kit: their names differ, `address` / `nodeAddress`.)
 *
 * Plain module: no Pulumi imports (dynamic providers capture it).
 */
import { InputError, OperationError, redact } from "../shared/errors";
import { Core0AuthError, Core0Client, Core0TimeoutError } from "./client";

/** How a resource reaches its core0 node. `password` is secret. */
export interface Core0Connection {
  address: string;
  port: number;
  password: string;
}

/** Input name of a connection field: `address`, or with prefix "node" `nodeAddress`. */
export function fieldName(prefix: string, field: keyof Core0Connection): string {
  return prefix ? prefix + field[0].toUpperCase() + field.slice(1) : field;
}

export function clientFor(c: Core0Connection, timeoutMs = 30_000): Core0Client {
  return new Core0Client({ host: c.address, port: c.port ?? 6379, password: c.password, timeoutMs });
}

/**
 * Maps client errors onto the resource's fields: a refused password names the password field, an
 * unreachable node the address/port fields. Secrets are redacted.
 */
export function fieldError(label: string, err: unknown, c: Core0Connection, prefix = ""): Error {
  const where = `${c.address}:${c.port ?? 6379}`;
  if (err instanceof Core0AuthError) {
    return new InputError(
      label,
      fieldName(prefix, "password"),
      `the core0 node ${where} refused it`,
      "set it to the node's redis password (the generated one the node was booted with)",
    );
  }
  if (err instanceof Core0TimeoutError) {
    return new OperationError(
      label,
      err.step,
      `${redact(err.detail, [c.password])} (fields ${fieldName(prefix, "address")}/${fieldName(prefix, "port")} = ${where})`,
      err.hint,
    );
  }
  // Duck-typed, not `instanceof Error`: classes rebuilt by Pulumi's closure serializer do not
  // always keep Error's prototype chain, and "[object Object]" helps nobody.
  const message = (err as { message?: unknown } | undefined)?.message;
  if (err && typeof err === "object" && "id" in err && "properties" in err) {
    // A partial-create error: keep its id and properties for the engine.
    (err as unknown as { message: string }).message = redact(String(message), [c.password]);
    return err as unknown as Error;
  }
  const r = (t: unknown) => (typeof t === "string" ? redact(t, [c.password]) : undefined);
  const e = (err ?? {}) as Record<string, unknown>;
  // The client's own errors are rebuilt with every text redacted (a fresh stack holds no secret).
  if (typeof e.resource === "string" && typeof e.step === "string" && typeof e.detail === "string") {
    return new OperationError(e.resource, e.step, r(e.detail)!, r(e.hint));
  }
  if (typeof e.resource === "string" && typeof e.field === "string" && typeof e.problem === "string") {
    return new InputError(e.resource, e.field, r(e.problem)!, r(e.fix) ?? "");
  }
  return new OperationError(
    label,
    `talk to core0 node ${where}`,
    r(typeof message === "string" ? message : String(err))!,
    "that the node is up and its core0 answers on that port",
  );
}

/** Runs `fn` with a client for `c`, always closing it, with errors mapped by `fieldError`. */
export async function withNode<T>(
  label: string,
  c: Core0Connection,
  fn: (client: Core0Client) => Promise<T>,
  prefix = "",
): Promise<T> {
  const client = clientFor(c);
  try {
    return await fn(client);
  } catch (err) {
    throw fieldError(label, err, c, prefix);
  } finally {
    await client.close();
  }
}

/**
 * Why the node does not answer `core.ping` within `timeoutMs` (connection refused, no route, wrong
 * password...), secrets redacted; undefined when it answers.
 */
export async function pingError(c: Core0Connection, timeoutMs = 5000): Promise<string | undefined> {
  const client = clientFor(c, timeoutMs);
  try {
    await client.ping({ timeoutMs });
    return undefined;
  } catch (err) {
    const m = (err as { message?: unknown } | undefined)?.message;
    // Without the job id: the same failure reads the same on every try.
    return redact(typeof m === "string" ? m : String(err), [c.password]).replace(/ \(job [0-9a-f-]+\)/g, "");
  } finally {
    await client.close();
  }
}
