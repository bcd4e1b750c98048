package io.github.pgw.client;

/** The telephony overlay of a presence (contract §3.2). */
public final class Phone {
    private String state;
    private String ext;
    private Call call;

    Phone() {}

    /** {@code unknown}, {@code unregistered}, {@code idle}, {@code ringing}, {@code in_call} or {@code held}. */
    public String getState() { return state; }
    /** The extension. */
    public String getExt() { return ext; }
    /** The current call, or null. */
    public Call getCall() { return call; }
}
