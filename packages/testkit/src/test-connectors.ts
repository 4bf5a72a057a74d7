// A plugin module for gateway child processes: `plugins: ["<path to this file>"]`.
import { createTestConnector } from "./test-connector.ts";

export default [createTestConnector("testTarget"), createTestConnector("otherTarget")];
