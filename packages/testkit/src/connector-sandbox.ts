/**
 * How a connector runs in the gateway's sandbox mode, from its package's `./testing` entry: start a
 * fake of its target, and the config block that points at it. The gateway's sandbox loops over the
 * registered connector packages and knows none of them by name.
 *
 * ```ts
 * // packages/connector-acme/src/testing.ts
 * export const sandbox: ConnectorSandbox = async ({ contact }) => {
 *   const fake = await startFakeAcme({ contacts: [contact.email] });
 *   return { config: { baseUrl: fake.url, apiKey: fake.apiKey }, url: fake.url, state: () => ({ … }), close: fake.close };
 * };
 * ```
 */
export type ConnectorSandbox = (context: SandboxContext) => Promise<SandboxTarget>;

export interface SandboxContext {
  /** The sample contact the sandbox's fake Engage API knows (what the sample events name). */
  contact: { id: string; email: string };
}

export interface SandboxTarget {
  /** The connector's config block (input form) pointing at the running fake. */
  config: Record<string, unknown>;
  /** Where the fake listens (shown in the banner). */
  url: string;
  /** What the fake holds now, for `GET /sandbox` (no secrets). */
  state(): unknown;
  close(): Promise<void>;
}
