import type { z } from "zod";

/**
 * The JSON Schema keyword that marks a secret field. Plain JSON Schema, so that any tool (and a
 * gateway built against another copy of this package or of zod) reads the mark the same way.
 */
export const SECRET_KEYWORD = "x-secret";

/**
 * Marks a config field as secret: the gateway masks its value wherever config is printed
 * (`check-config`, logs), and the generated JSON Schema says so. A connector marks every credential
 * it takes this way; nothing else decides what is secret.
 *
 * ```ts
 * configSchema: z.strictObject({ apiKey: secret(z.string().min(1)), baseUrl: z.url() })
 * ```
 */
export function secret<T extends z.ZodType>(schema: T): T {
  return schema.meta({ ...schema.meta(), [SECRET_KEYWORD]: true }) as T;
}

/** Whether a JSON Schema node (as `z.toJSONSchema` writes it) is marked secret. */
export function isSecretJsonSchema(node: unknown): boolean {
  return (
    typeof node === "object" && node !== null && (node as Record<string, unknown>)[SECRET_KEYWORD] === true
  );
}
