// NestJS: one provider holds the client; inject PresenceService where needed.
import { Injectable } from '@nestjs/common';
import { createApi, type ApiPresence, type IPTEvent, type PgwApi } from '@pgw/client';

@Injectable()
export class PresenceService {
  private readonly api: PgwApi = createApi({
    baseUrl: process.env.PGW_URL ?? 'http://127.0.0.1:8080',
    getToken: () => process.env.PGW_SERVICE_TOKEN ?? '',
  });

  presenceOf(users: string[]): Promise<ApiPresence[]> {
    return this.api.queryPresence(users);
  }

  async logOutSession(session: string): Promise<void> {
    await this.api.deleteSession(session);
  }

  /** For a PBX integration holding a token with role bridge. */
  async report(bridge: string, events: IPTEvent[]): Promise<number> {
    const { accepted } = await this.api.postIPTEvents(bridge, events);
    return accepted;
  }
}
