import type { CustomStatus, Presence, Status } from './types.js';

/** The English labels of the built-in statuses. */
export const STATUS_LABELS: Readonly<Record<Status, string>> = {
  online: 'Online',
  away: 'Away',
  busy: 'Busy',
  dnd: 'Do not disturb',
  offline: 'Offline',
};

/**
 * The text to show for a presence: the label of its custom status when the
 * tenant defines it (protocol §9; `statuses` comes with the welcome), else the
 * label of its built-in status, which is the custom status's base, so an app
 * that ignores custom statuses still shows something right.
 */
export function statusLabel(p: Pick<Presence, 'status' | 'custom'>, statuses?: readonly CustomStatus[]): string {
  if (p.custom) {
    const c = statuses?.find((s) => s.name === p.custom);
    if (c) return c.label;
  }
  return STATUS_LABELS[p.status] ?? p.status;
}
