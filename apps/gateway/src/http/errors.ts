import type { Response } from "express";

/** The contract's error body. Messages are fixed texts: never secrets or payload data. */
export function sendError(res: Response, status: number, error: string, message: string): void {
  if (res.headersSent) return;
  res.status(status).json({ error, message });
}
