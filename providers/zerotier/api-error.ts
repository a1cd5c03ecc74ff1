/**
 * The ZeroTier API client's HTTP-level error.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value (docs/ARCHITECTURE.md).
 */
import { OperationError } from "../shared/errors";

/** An HTTP-level failure; `status` 0 means no response (connection refused, timeout). */
export class ZerotierApiError extends OperationError {
  constructor(
    resource: string,
    step: string,
    detail: string,
    hint: string | undefined,
    readonly status: number,
    readonly retryAfterMs?: number,
    /** True when retrying cannot help (the server rejected what was sent), even for a 5xx. */
    readonly permanent?: boolean,
  ) {
    super(resource, step, detail, hint);
    this.name = "ZerotierApiError";
  }
}
