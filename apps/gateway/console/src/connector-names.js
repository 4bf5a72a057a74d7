/** The connectors /stats knows: configured ones and ones that still have deliveries stored. */
export function connectorNames(stats) {
  return [
    ...new Set([...Object.keys(stats?.connectors ?? {}), ...Object.keys(stats?.deliveries ?? {})]),
  ].sort();
}
