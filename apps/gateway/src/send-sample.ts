import { loadSamples, type SendResult, sampleEvent, sendWebhook } from "@engage-bridge/testkit";

export interface SendSamplesOptions {
  url: string;
  secret: string;
  /** Event type or sample file name; all samples when absent. */
  type?: string | undefined;
  count?: number | undefined;
  maxAttempts: number;
  log: (line: string) => void;
}

/** Svix's schedule compressed 1000x: 5 s → 5 ms, 5 min → 300 ms, 30 min → 1.8 s. */
const TIME_SCALE = 0.001;

export async function sendSamples(options: SendSamplesOptions): Promise<SendResult[]> {
  const samples = loadSamples();
  const chosen = options.type
    ? samples.filter((s) =>
        // An event type picks its plain sample; the encrypted one is asked for by its file name.
        s.file.startsWith("encrypted.")
          ? s.file.replace(/\.json$/, "") === options.type
          : s.eventType === options.type,
      )
    : samples;
  if (chosen.length === 0)
    throw new Error(
      `no sample for ${options.type}; known: ${samples.map((s) => s.file.replace(/\.json$/, "")).join(", ")}`,
    );
  const count = options.count ?? chosen.length;
  const results: SendResult[] = [];
  for (let i = 0; i < count; i++) {
    const sample = chosen[i % chosen.length];
    if (!sample) continue;
    // Every plain sample gets a fresh event id; the encrypted one is sent as recorded.
    const body = sample.file.startsWith("encrypted.") ? sample.body : sampleEvent(sample.eventType);
    const result = await sendWebhook({
      url: options.url,
      secret: options.secret,
      body,
      maxAttempts: options.maxAttempts,
      timeScale: TIME_SCALE,
    });
    results.push(result);
    options.log(
      `${result.status || "error"}  ${sample.eventType}  ${result.msgId}  (${result.attempts.length} attempt${result.attempts.length === 1 ? "" : "s"})`,
    );
  }
  return results;
}
