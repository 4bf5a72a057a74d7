/**
 * The one store interface. SQLite (embedded, the default) and PostgreSQL (several replicas)
 * implement it; callers never see SQL. Every method may reject when the store is unavailable.
 */

export type EventStatus = "accepted" | "ignored" | "undecryptable";
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
  status?: EventStatus | undefined;
  type?: string | undefined;
  /** 0 = no limit. */
  limit: number;
}

export interface StoreStats {
  events: Record<string, number>;
  deliveries: Record<string, Partial<Record<DeliveryStatus, number>>>;
  queueDepth: number;
  oldestPendingSeconds: number | null;
}

export interface Store {
  readonly kind: "sqlite" | "postgres";
  /** Applies pending schema migrations; safe to call on every start and from several processes. */
  migrate(): Promise<void>;
  /**
   * Commits the event and its deliveries durably (on disk / acknowledged by the server) before
   * resolving. `duplicate` when `(source, svixId)` is already stored: nothing new is written.
   */
  insertEvent(event: NewEvent): Promise<InsertOutcome>;
  ping(): Promise<void>;
  listEvents(query: EventQuery): Promise<StoredEvent[]>;
  stats(now?: Date): Promise<StoreStats>;
  close(): Promise<void>;
}
