import { Emitter } from './emitter.js';
import type { Presence } from './types.js';

/** One change of a {@link PresenceView}. */
export interface PresenceChange {
  user: string;
  /** The presence now. */
  presence: Presence;
  /** The presence before, undefined the first time the view sees the user. */
  previous: Presence | undefined;
}

/** Events of a {@link PresenceView}. */
export interface PresenceViewEvents {
  /** A user's presence in the view changed. */
  change: PresenceChange;
}

/** What a view needs from its client (kept narrow so views are easy to test). */
export interface ViewOwner {
  releaseView(view: PresenceView): Promise<void>;
}

/**
 * A live map of user → PRESENCE for what one subscribe asked for. It is kept
 * current by the client across reconnects (re-subscribed, snapshot applied,
 * stale versions ignored) until {@link close}.
 */
export class PresenceView extends Emitter<PresenceViewEvents> implements Iterable<[string, Presence]> {
  private watchesTenant: boolean;
  private readonly map = new Map<string, Presence>();
  private readonly owner: ViewOwner;
  private closed = false;
  private readonly userSet: Set<string>;

  /** @internal Views are made by {@link PgwClient.subscribe}. */
  constructor(owner: ViewOwner, users: readonly string[], tenant: boolean) {
    super();
    this.owner = owner;
    this.userSet = new Set(users);
    this.watchesTenant = tenant;
  }

  /** The users this view watches by name (empty for a tenant-only view). */
  get users(): string[] {
    return [...this.userSet];
  }

  /** Whether this view watches every user of the tenant. */
  get tenant(): boolean {
    return this.watchesTenant;
  }

  /** The presence of `user`, if the view has seen it. */
  get(user: string): Presence | undefined {
    return this.map.get(user);
  }

  /** Whether the view holds `user`. */
  has(user: string): boolean {
    return this.map.has(user);
  }

  /** How many users the view holds. */
  get size(): number {
    return this.map.size;
  }

  /** Whether the view was closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** A copy of the map. */
  toMap(): Map<string, Presence> {
    return new Map(this.map);
  }

  /** Iterates over [user, presence]. */
  [Symbol.iterator](): Iterator<[string, Presence]> {
    return this.map.entries();
  }

  /** Stops updates and unsubscribes from what no other view still watches. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.owner.releaseView(this);
  }

  /** @internal Whether this view watches `user`. */
  watches(user: string): boolean {
    return !this.closed && (this.watchesTenant || this.userSet.has(user));
  }

  /** @internal Puts p in the view; emits a change unless it is the same object. */
  put(p: Presence): void {
    if (!this.watches(p.user)) return;
    const previous = this.map.get(p.user);
    if (previous === p) return;
    this.map.set(p.user, p);
    this.emit('change', { user: p.user, presence: p, previous });
  }

  /** @internal Forgets users the client no longer subscribes to. */
  drop(users: Iterable<string>): void {
    for (const u of users) {
      this.userSet.delete(u);
      this.map.delete(u);
    }
  }

  /** @internal Stops watching the whole tenant; keeps only the users named. */
  dropTenant(): void {
    if (!this.watchesTenant) return;
    this.watchesTenant = false;
    for (const u of [...this.map.keys()]) if (!this.userSet.has(u)) this.map.delete(u);
  }

  /** @internal Users held by this view. */
  heldUsers(): string[] {
    return [...this.map.keys()];
  }
}
