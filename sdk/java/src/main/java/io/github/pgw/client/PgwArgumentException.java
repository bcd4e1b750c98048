package io.github.pgw.client;

/**
 * A bad argument given to the SDK, caught before anything is sent. {@link #getArgument()} names
 * it as the caller wrote it (e.g. {@code users[3]}), and so does the message, with the bad value:
 * {@code queryPresence: "users[1]" must be 1-128 characters of A-Z a-z 0-9 _ - (got "u.2")}.
 */
public class PgwArgumentException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final String argument;

    PgwArgumentException(String method, String argument, String reason) {
        super(method + ": \"" + argument + "\" " + reason);
        this.argument = argument;
    }

    /** The argument at fault. */
    public String getArgument() { return argument; }
}
