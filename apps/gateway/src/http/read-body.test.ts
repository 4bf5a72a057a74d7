import { once } from "node:events";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type BodyError, readBody } from "./read-body.ts";

interface Outcome {
  error: BodyError | undefined;
  body: Buffer;
  calls: number;
  /** Whether the request had been read to its end when `done` was called. */
  complete: boolean;
}

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A server that reads each request with `readBody` and answers 200 or the error's type. */
async function serve(limit: number): Promise<{ port: number; outcomes: Outcome[] }> {
  const outcomes: Outcome[] = [];
  server = createServer((req: IncomingMessage, res) => {
    const outcome: Outcome = { error: undefined, body: Buffer.alloc(0), calls: 0, complete: false };
    outcomes.push(outcome);
    readBody(req, limit, (error, body) => {
      outcome.calls += 1;
      outcome.error = error;
      outcome.body = body;
      outcome.complete = req.complete;
      res.writeHead(error ? 400 : 200).end(error?.type ?? "ok");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as AddressInfo).port, outcomes };
}

/** POSTs `chunks` (chunked when `chunked`), returns the status and the answer's text. */
function post(
  port: number,
  chunks: readonly (string | Buffer)[],
  headers: Record<string, string> = {},
  chunked = false,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const length = chunks.reduce((sum, c) => sum + Buffer.byteLength(c), 0);
    const req = request(
      {
        port,
        host: "127.0.0.1",
        method: "POST",
        path: "/",
        headers: chunked ? headers : { "content-length": String(length), ...headers },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe("readBody", () => {
  it("returns the bytes sent, across chunks, byte for byte", async () => {
    const { port, outcomes } = await serve(1024);
    const parts = [Buffer.from([0, 255, 1]), Buffer.from("é€"), Buffer.alloc(500, 7)];
    expect(await post(port, parts, {}, true)).toEqual({ status: 200, text: "ok" });
    expect(outcomes[0]?.body.equals(Buffer.concat(parts))).toBe(true);
    expect(outcomes[0]?.calls).toBe(1);
  });

  it("returns an empty body for a request without one", async () => {
    const { port, outcomes } = await serve(1024);
    expect(await post(port, [])).toEqual({ status: 200, text: "ok" });
    expect(outcomes[0]?.body.length).toBe(0);
  });

  it("accepts exactly the limit and refuses one byte more, after reading the rest of the body", async () => {
    const { port, outcomes } = await serve(100);
    expect((await post(port, [Buffer.alloc(100, 1)])).status).toBe(200);
    // Chunked: no declared length; the limit is crossed while reading.
    const answer = await post(
      port,
      [Buffer.alloc(60, 1), Buffer.alloc(41, 2), Buffer.alloc(5000, 3)],
      {},
      true,
    );
    expect(answer).toEqual({ status: 400, text: "entity.too.large" });
    expect(outcomes[1]?.body.length).toBe(0);
    // The client still sending reads the answer: it comes only once the body is read.
    expect(outcomes[1]?.complete).toBe(true);
    expect(outcomes[1]?.calls).toBe(1);
  });

  it("refuses any content-encoding but identity, without inflating", async () => {
    const { port, outcomes } = await serve(1024);
    for (const encoding of ["gzip", "deflate", "br", "gzip, identity", "x-garbage", "*"]) {
      expect(await post(port, ["{}"], { "content-encoding": encoding })).toEqual({
        status: 400,
        text: "encoding.unsupported",
      });
    }
    for (const encoding of ["identity", "IDENTITY", ""]) {
      expect(await post(port, ["{}"], { "content-encoding": encoding })).toEqual({ status: 200, text: "ok" });
    }
    expect(outcomes.every((o) => o.calls === 1)).toBe(true);
  });

  it("reports a client that goes away mid-body, once", async () => {
    const { port, outcomes } = await serve(1024);
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"half":');
    await expect.poll(() => outcomes.length).toBe(1);
    socket.destroy();
    await expect.poll(() => outcomes[0]?.calls).toBe(1);
    expect(outcomes[0]?.error?.type).toBe("request.aborted");
    expect(outcomes[0]?.body.length).toBe(0);
  });
});
