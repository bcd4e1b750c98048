package io.github.pgw.client;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;

/** The one Gson of the library: nulls are left out, as the gateway's JSON does. */
final class Json {
    static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    private Json() {}
}
