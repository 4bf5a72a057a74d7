/**
 * The one store interface. SQLite (embedded, the default) and PostgreSQL (several replicas)
 * implement it; callers never see SQL. Every method may reject when the store is unavailable.
 */

export const EVENT_STATUSES = ["accepted", "ignored", "undecryptable"] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];
export const DELIVERY_STATUSES = ["pending", "retrying", "delivered", "skipped", "dead"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface NewEvent {
  source: string;
  svixId: string;
  /** Engage event id: `id ?? eventId ?? svix-id`. */
  eventId: string;
  /** The event type as sent, or "" when the body could not be read. */
  type: string;
  status: EventStatus;
  /** Why an event is ignored or undecryptable (a reason code, never payload data). */
  statusReason?: string | undefined;
  contactId?: string | undefined;
  tenant?: string | undefined;
  receivedAt: Date;
  /** The raw request body, exactly as signed. */
  body: Uint8Array;
  /** W3C `traceparent` of the ingest span, when tracing is on. */
  traceparent?: string | undefined;
  /** One delivery is created per connector named here. */
  connectors: readonly string[];
}

export type InsertOutcome = "stored" | "duplicate";

export interface StoredEvent {
  id: string;
  svixId: string;
  source: string;
  type: string;
  status: EventStatus;
  statusReason: string | null;
  contactId: string | null;
  receivedAt: string;
}

export interface EventQuery {
  /** Engage event id or svix id, exactly. */
  id?: string | undefined;
  /** Contact id, exactly (string or numeric, as `forget-contact` takes it). */
  contactId?: string | undefined;
  status?: EventStatus | undefined;
  type?: string | undefined;
  source?: string | undefined;
  /** Events with a delivery to this connector instance (and `deliveryStatus`, when given). */
  connector?: string | undefined;
  deliveryStatus?: DeliveryStatus | undefined;
  /** Received at or after. */
  since?: Date | undefined;
  /** Received before. */
  until?: Date | undefined;
  /** Where the previous page ended (`EventPage.nextCursor`). */
  cursor?: string | undefined;
  /** 0 = no limit. */
  limit: number;
}

/** Newest first; `nextCursor` fetches the next page (null on the last). */
export interface EventPage {
  items: StoredEvent[];
  nextCursor: string | null;
}

/** One attempt as the console and `engage-bridge event` show it. */
export interface AttemptView {
  attempt: number;
  at: string;
  durationMs: number;
  outcome: AttemptRecord["outcome"];
  error: string | null;
  targetStatus: number | null;
  consent: ConsentDecision | null;
}

/** `GET /admin/events/<id>` (the body stays inside: the API shows it only on demand). */
export interface EventDetail {
  event: StoredEvent & { tenant: string | null; traceId: string | null };
  deliveries: {
    connector: string;
    status: DeliveryStatus;
    attempts: AttemptView[];
    nextAttemptAt: string | null;
    lastError: string | null;
    updatedAt: string;
  }[];
  body: Uint8Array;
}

export interface ActivityQuery {
  from: Date;
  to: Date;
  bucketMs: number;
}

/** Counts per time bucket (ISO start): events received, and attempts per connector by outcome. */
export interface EventActivity {
  bucketMs: number;
  events: { t: string; n: number }[];
  deliveries: Record<
    string,
    { t: string; delivered: number; skipped: number; retry: number; dead: number }[]
  >;
}

export interface StoreStats {
  events: Record<string, number>;
  deliveries: Record<string, Partial<Record<DeliveryStatus, number>>>;
  queueDepth: number;
  oldestPendingSeconds: number | null;
  /** Queue depth and oldest pending age per connector (for metrics). */
  pendingByConnector: Record<string, { depth: number; oldestSeconds: number }>;
}

export interface LeasedDelivery {
  deliveryId: string;
  connector: string;
  /** Attempts made so far (0 on the first lease). */
  attempts: number;
  /**
   * Whether an earlier attempt may have reached the target: an attempt was recorded, or an earlier
   * lease ran out (a worker died or was stopped mid-call) without recording one.
   */
  maybeSentBefore: boolean;
  /** When the delivery was queued (created, or re-queued by replay): the age limit counts from here. */
  queuedAt: Date;
  event: {
    source: string;
    svixId: string;
    eventId: string;
    type: string;
    contactId: string | null;
    receivedAt: Date;
    body: Uint8Array;
    /** W3C `traceparent` of the ingest span, when it was traced. */
    traceparent: string | null;
  };
}

export interface AppliedConsent {
  /** Change time (or receipt time) of the applied event, in ms. */
  orderKey: number;
  /** The applied event itself, unless it was purged or erased since. */
  event: LeasedDelivery["event"] | undefined;
}

/** The consent decision behind a preference event's attempt (shown in the console). */
export type ConsentDecision =
  | { value: boolean; from: "engage-api" | "payload" }
  | { supersededBy: string; reason: string };

export interface AttemptRecord {
  startedAt: Date;
  durationMs: number;
  outcome: "delivered" | "skipped" | "retry" | "dead";
  error?: string | undefined;
  /** HTTP status the target answered, when the connector knows it. */
  targetStatus?: number | undefined;
  consent?: ConsentDecision | undefined;
}

export interface DeliveryUpdate {
  deliveryId: string;
  /** The state the delivery moves to. `retrying` needs `nextAttemptAt`. */
  status: "delivered" | "skipped" | "dead" | "retrying";
  /** Reason (skipped/dead) or error (retrying); stored as `lastError`. */
  error?: string | undefined;
  nextAttemptAt?: Date | undefined;
  /** The attempt made, recorded in the history (absent when the engine decided without calling the connector). */
  attempt?: AttemptRecord | undefined;
  /** False when the attempt must not count toward maxAttempts (the target only throttled it). */
  countsAsAttempt?: boolean | undefined;
  /** Records that a preference with this order key was applied (convergent consent without the Engage API). */
  consent?: { contactId: string; channel: string; orderKey: number } | undefined;
}

export interface StoredDelivery {
  eventId: string;
  connector: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string | null;
  updatedAt: string;
}

export interface DeliveryQuery {
  status?: DeliveryStatus | undefined;
  connector?: string | undefined;
  /** Engage event id. */
  eventId?: string | undefined;
  limit: number;
}

export interface ReplayQuery {
  /** Engage event id (or svix id). */
  eventId?: string | undefined;
  status?: "dead" | "skipped" | "delivered" | undefined;
  connector?: string | undefined;
  /** Events received at or after. */
  since?: Date | undefined;
  /** Events received before. */
  until?: Date | undefined;
  /** Count what would be re-queued, change nothing. */
  dryRun?: boolean | undefined;
}

export interface Store {
  readonly kind: "sqlite" | "postgres";
  /**
   * The ingest path's group-commit transactions, and the events in them, since this store was
   * opened: events per commit is how well grouping amortizes each fsync or round trip (metrics).
   */
  readonly counters: { readonly commits: number; readonly events: number };
  /** Applies pending schema migrations; safe to call on every start and from several processes. */
  migrate(): Promise<void>;
  /**
   * Commits the event and its deliveries durably (on disk / acknowledged by the server) before
   * resolving. `duplicate` when `(source, svixId)` is already stored: nothing new is written.
   */
  insertEvent(event: NewEvent): Promise<InsertOutcome>;
  /** The body stored for `(source, svixId)`, or undefined when there is none (duplicate checks). */
  storedBody(source: string, svixId: string): Promise<Uint8Array | undefined>;
  /**
   * Resolves when the store answers **and can write** (a small committed write, and for a file
   * store, the file it writes is still the one at its path). Used by `/readyz`.
   */
  ping(): Promise<void>;
  /**
   * Leases up to `limit` due deliveries of one connector (pending or retrying, `nextAttemptAt` passed,
   * no live lease), oldest first. A lease expires after `leaseMs`: a crashed worker's work comes back.
   */
  leaseDue(
    connector: string,
    limit: number,
    owner: string,
    leaseMs: number,
    now?: Date,
  ): Promise<LeasedDelivery[]>;
  /** Records outcomes of leased deliveries; updates of deliveries no longer leased by `owner` are ignored. */
  complete(owner: string, updates: readonly DeliveryUpdate[], now?: Date): Promise<number>;
  /** Gives back every lease of `owner` (graceful shutdown) so that another worker takes them now. */
  releaseLeases(owner: string): Promise<number>;
  /** The last preference applied for (connector, contact, channel), if any. */
  appliedConsent(connector: string, contactId: string, channel: string): Promise<AppliedConsent | undefined>;
  listDeliveries(query: DeliveryQuery): Promise<StoredDelivery[]>;
  /** Re-queues matching finished deliveries (attempt count restarts, history is kept). Returns how many (would be, with `dryRun`). */
  replay(query: ReplayQuery, now?: Date): Promise<number>;
  /** Deletes events received before `before` whose deliveries are all finished. Returns how many. */
  purge(before: Date): Promise<number>;
  /** Erases every event, delivery, attempt and consent record of one contact. Returns events erased. */
  forgetContact(contactId: string): Promise<number>;
  /** Matching events, newest first (a page of `listEvents`). */
  listEvents(query: EventQuery): Promise<StoredEvent[]>;
  /** Matching events, newest first, a page at a time. Rejects with a RangeError for a foreign cursor. */
  findEvents(query: EventQuery): Promise<EventPage>;
  /** One event (by Engage event id or svix id; the newest if several sources share it) with its deliveries and attempts. */
  eventDetail(id: string): Promise<EventDetail | undefined>;
  /** Events received and attempts made per time bucket (the console's charts). */
  activity(query: ActivityQuery): Promise<EventActivity>;
  stats(now?: Date): Promise<StoreStats>;
  close(): Promise<void>;
}
