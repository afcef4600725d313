// What `status` (RECENT ALERTS) and the dashboard print for a recent alert's state. The JSON keeps
// "failed" (scripts read it), but an alert listed as failed is being retried: one given up on is listed as
// "parked" (or "dropped"). "failed" alone, read at 3 a.m., says "given up".
import type { RecentAlert } from "./metrics.ts";

export const ALERT_STATUS_TEXT: Readonly<Partial<Record<RecentAlert["status"], string>>> = {
  failed: "failed, retrying",
};

export const alertStatusText = (status: string): string =>
  ALERT_STATUS_TEXT[status as RecentAlert["status"]] ?? status;
