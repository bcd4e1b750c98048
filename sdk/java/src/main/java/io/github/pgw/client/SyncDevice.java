package io.github.pgw.client;

/** One device of an {@code ipt.sync}: its extension, owner, registration and current call. */
public final class SyncDevice {
    private String ext;
    private String user;
    private String state;
    private SyncCall call;

    private SyncDevice() {}

    /** A device: {@code state} is {@code registered} or {@code unregistered}. */
    public static SyncDevice of(String ext, String user, String state) {
        SyncDevice d = new SyncDevice();
        d.ext = ext;
        d.user = user;
        d.state = state;
        return d;
    }

    /** The call on the device now, if any. */
    public SyncDevice call(SyncCall call) { this.call = call; return this; }

    /** The extension. */
    public String getExt() { return ext; }
    /** The owner. */
    public String getUser() { return user; }
    /** {@code registered} or {@code unregistered}. */
    public String getState() { return state; }
    /** The call, or null. */
    public SyncCall getCall() { return call; }
}
