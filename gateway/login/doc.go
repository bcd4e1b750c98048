// Package login accepts web logins that an app keeps as server-side
// sessions in Redis (Spring Session and the like) beside JWT (contract
// §2.1). A Verifier turns a session id — from the app's cookie or from
// hello.login — into the same auth.Claims a token gives, with one HMGET of
// the configured fields; a Tracker notices when the app deletes or expires
// a session that live connections use, checking every tracked session in
// one pipelined round per period.
//
// The gateway only ever reads the app's sessions: this package issues
// HMGET and nothing else (never a write, never a TTL change, never SCAN or
// KEYS), and it never logs. A session id is a credential: no detail or
// error built here contains it. An id that breaks the ids rule of §2
// (^[A-Za-z0-9_-]{1,128}$) is refused before any key is built from it, so
// nothing like "*" or "{" ever reaches Redis.
//
// # Values
//
// A field value is read as JSON when it parses as JSON and is a string (or,
// for roles, an array of strings), or a Jackson default-typing wrapper
// ["java.lang.String", v] as GenericJackson2JsonRedisSerializer writes for
// non-natural types; else as a Java-serialized String — exactly the JDK
// serializer's TC_STRING and TC_LONGSTRING records, modified UTF-8 decoded
// the way DataInput.readUTF does — else as plain UTF-8 text. A value that
// starts with the Java stream magic but holds any other object is refused
// (login_claims naming the field), never guessed at. Roles read from a
// string are comma-separated.
//
// lastAccessedTime (milliseconds) and maxInactiveInterval (seconds) are
// JSON numbers, plain digits, a Jackson wrapper ["java.lang.Long", n], or a
// Java-serialized java.lang.Long / java.lang.Integer. A session is expired
// after lastAccessedTime + maxInactiveInterval; a negative interval never
// expires; a session with neither field is expired only by Redis deleting
// its key.
package login
