/**
 * The cockpit's request errors: an `InputError` (resource, field, problem, fix) that also carries
 * the HTTP status the REST API answers with. The run manager and the access layer throw these,
 * so the robot and the page can show the same message the API sends.
 */
import { InputError } from "../providers/shared/errors";

/** A refused request: names what was asked about, the field at fault, what is wrong and the fix. */
export class RequestError extends InputError {
  constructor(
    /** HTTP status: 400 bad input, 401 no/invalid login, 403 role too low, 404 unknown, 409 wrong state, 413 too big. */
    readonly status: number,
    resource: string,
    field: string,
    problem: string,
    fix: string,
  ) {
    super(resource, field, problem, fix);
    this.name = "RequestError";
  }

  /** The JSON body the REST API answers with. */
  toJSON(): {
    error: { status: number; resource: string; field: string; problem: string; fix: string; message: string };
  } {
    return {
      error: {
        status: this.status,
        resource: this.resource,
        field: this.field,
        problem: this.problem,
        fix: this.fix,
        message: this.message,
      },
    };
  }
}

/** Every bad key of a config file at once, one line per key. */
export class CockpitConfigError extends Error {
  constructor(
    /** The config file's path. */
    readonly file: string,
    /** One `InputError` per bad key (resource = the file, field = the key path). */
    readonly failures: InputError[],
  ) {
    const lines = failures.map((f) => `  ${f.field}: ${f.problem}. Fix: ${f.fix}`);
    super(`cockpit config ${file}: ${failures.length} problem(s):\n${lines.join("\n")}`);
    this.message = `cockpit config ${file}: ${failures.length} problem(s):\n${lines.join("\n")}`;
    this.name = "CockpitConfigError";
  }
}
