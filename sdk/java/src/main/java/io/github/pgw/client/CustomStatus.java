package io.github.pgw.client;

/**
 * A custom status of the tenant (contract §9), as the {@code welcome} lists it: its name (what
 * {@link PgwClient#status} takes and {@link Presence#getCustom()} carries), the built-in status it
 * counts as, and the text to show. Immutable; made by the SDK from the gateway's JSON.
 */
public final class CustomStatus {
    private String name;
    private String base;
    private String label;

    CustomStatus() {}

    /** The name, e.g. {@code lunch}. */
    public String getName() { return name; }
    /** The built-in status it counts as: {@code online}, {@code away}, {@code busy} or {@code dnd}. */
    public String getBase() { return base; }
    /** The text to show, e.g. {@code At lunch}. */
    public String getLabel() { return label; }

    @Override
    public String toString() { return Json.GSON.toJson(this); }
}
