package io.github.pgw.client;

import com.google.gson.JsonObject;

/**
 * A tenant's POLICY (contract §9) as JSON, with the ETag that {@link PgwApi#putTenant} must send
 * back as If-Match. The policy is kept as a {@link JsonObject} so that fields a newer gateway adds
 * survive a read-modify-write.
 */
public final class VersionedPolicy {
    private final JsonObject policy;
    private final String etag;

    VersionedPolicy(JsonObject policy, String etag) {
        this.policy = policy;
        this.etag = etag;
    }

    /** A copy of the policy ({@code {}} for a tenant with none stored). */
    public JsonObject getPolicy() { return policy.deepCopy(); }

    /** The strong entity tag of this version, e.g. {@code "17"} (with the quotes). */
    public String getEtag() { return etag; }
}
