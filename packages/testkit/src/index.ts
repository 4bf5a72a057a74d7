export * from "./fake-engage-api.ts";
export * from "./fake-google.ts";
export * from "./fake-hubspot.ts";
export * from "./fake-sendgrid.ts";
export * from "./fake-target.ts";
export * from "./samples.ts";
export * from "./sender.ts";
export * from "./test-connector.ts";
