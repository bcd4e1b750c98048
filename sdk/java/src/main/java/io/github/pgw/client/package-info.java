/**
 * The Java 8 client of the pgw presence gateway.
 *
 * <ul>
 *   <li>{@link io.github.pgw.client.PgwApi}: the HTTP API (presence, status, sessions, telephony input),
 *       synchronous and {@link java.util.concurrent.CompletableFuture} variants.</li>
 *   <li>{@link io.github.pgw.client.PgwClient}: one WebSocket connection of one window, kept alive across
 *       drops by the contract's close-code table; presence views with version ordering.</li>
 *   <li>{@link io.github.pgw.client.PgwBridge}: a PBX bridge's {@code ipt.sync} / {@code ipt.event} with
 *       sequence numbers and a resync after every reconnect.</li>
 * </ul>
 *
 * <p>Every argument is checked before anything is sent ({@link io.github.pgw.client.PgwArgumentException}
 * names it and the bad value); every refusal of the gateway is an RFC 9457 problem, raised as
 * {@link io.github.pgw.client.PgwException} (WebSocket) or {@link io.github.pgw.client.PgwApiException}
 * (HTTP). Run-time dependencies: OkHttp 3.14 and Gson.
 */
package io.github.pgw.client;
