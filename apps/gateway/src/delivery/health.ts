import type { ConnectorHealth } from "@engage-bridge/core";
import type { Gauge } from "prom-client";

export interface HealthState {
  healthy: boolean;
  reason?: string;
  since: string;
}

/** What each connector last said about itself; shown in metrics and `/readyz`. */
export class HealthBoard {
  private readonly states = new Map<string, HealthState>();
  private readonly gauge: Gauge<"connector">;

  constructor(gauge: Gauge<"connector">) {
    this.gauge = gauge;
  }

  for(connector: string): ConnectorHealth {
    this.set(connector, { healthy: true, since: new Date().toISOString() });
    return {
      unhealthy: (reason) => {
        if (this.states.get(connector)?.reason === reason) return;
        this.set(connector, { healthy: false, reason, since: new Date().toISOString() });
      },
      healthy: () => {
        if (this.states.get(connector)?.healthy) return;
        this.set(connector, { healthy: true, since: new Date().toISOString() });
      },
    };
  }

  private set(connector: string, state: HealthState): void {
    this.states.set(connector, state);
    this.gauge.set({ connector }, state.healthy ? 1 : 0);
  }

  snapshot(): Record<string, HealthState> {
    return Object.fromEntries(this.states);
  }
}
