// Next.js App Router: app/api/presence/[user]/route.ts. Route handlers take
// and return the web Request/Response, so nothing Next-specific is needed.
import { createApi, PgwApiError } from '@pgw/client';

const pgw = createApi({
  baseUrl: process.env.PGW_URL ?? 'http://127.0.0.1:8080',
  getToken: () => process.env.PGW_SERVICE_TOKEN ?? '', // or mint a short-lived JWT here
});

export async function GET(request: Request, ctx: { params: Promise<{ user: string }> }): Promise<Response> {
  const { user } = await ctx.params;
  try {
    // The browser going away aborts the gateway call too.
    return Response.json(await pgw.getPresence(user, { signal: request.signal }));
  } catch (err) {
    if (err instanceof PgwApiError) {
      // Pass the gateway's problem on: it names the field and the cause.
      return new Response(JSON.stringify(err.problem), {
        status: err.status,
        headers: { 'content-type': 'application/problem+json' },
      });
    }
    throw err;
  }
}
