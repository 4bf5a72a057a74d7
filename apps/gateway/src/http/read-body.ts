import type { IncomingMessage } from "node:http";

/**
 * Why a webhook body could not be read (the webhook route answers 413, 415 or 400). The names are
 * body-parser's error `type`s, which the route's answers were first mapped from.
 */
export type BodyErrorType =
  | "entity.too.large"
  | "encoding.unsupported"
  | "request.aborted"
  | "request.size.invalid";

export class BodyError extends Error {
  readonly type: BodyErrorType;
  constructor(type: BodyErrorType, message: string) {
    super(message);
    this.name = "BodyError";
    this.type = type;
  }
}

/**
 * Reads a request's raw body, as bytes, up to `limit`: the webhook route's own reader instead of
 * the generic body parser (body-parser with raw-body, type-is and content-type), whose per-request
 * work showed under load (docs/benchmarks.md). What it does is what `express.raw({ inflate: false })`
 * did:
 *
 * - a `content-encoding` other than `identity` is refused (415) before any byte is read: a signature
 *   covers the bytes sent, so nothing is ever inflated;
 * - a body over `limit` is refused (413) once it crosses the limit; what was buffered is dropped
 *   and the rest is read and discarded before the answer, so that the client, still sending, reads
 *   the 413 instead of a reset connection;
 * - a client that goes away mid-body, or sends fewer bytes than it declared, is an error (400).
 *
 * `done` is called once, with the body or the error. (A declared length over the limit is refused
 * by the route before it gets here, without reading anything.)
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  done: (error: BodyError | undefined, body: Buffer) => void,
): void {
  const encoding = req.headers["content-encoding"];
  if (encoding && encoding.toLowerCase() !== "identity") {
    // Nothing is read: after the answer, Node reads and discards the body to reuse the connection.
    done(new BodyError("encoding.unsupported", "content encoding is not supported"), EMPTY);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  let finished = false;
  const finish = (error: BodyError | undefined, body: Buffer) => {
    if (finished) return;
    finished = true;
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("close", onClose);
    req.off("error", onClose);
    done(error, body);
  };
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (tooLarge) return;
    if (size > limit) {
      tooLarge = true;
      chunks.length = 0;
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = () => {
    if (tooLarge) return finish(new BodyError("entity.too.large", "body is larger than the limit"), EMPTY);
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) !== size)
      return finish(new BodyError("request.size.invalid", "body length differs from content-length"), EMPTY);
    finish(undefined, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
  };
  // 'close' before 'end' (or an 'error'): the client went away mid-body. After 'end' both listeners
  // are gone; Node emits a request's 'error' only to listeners.
  const onClose = () => finish(new BodyError("request.aborted", "the client went away mid-body"), EMPTY);
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("close", onClose);
  req.on("error", onClose);
}

const EMPTY = Buffer.alloc(0);
