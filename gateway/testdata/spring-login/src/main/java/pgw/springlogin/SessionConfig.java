package pgw.springlogin;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.redis.serializer.GenericJackson2JsonRedisSerializer;
import org.springframework.data.redis.serializer.JdkSerializationRedisSerializer;
import org.springframework.data.redis.serializer.RedisSerializer;

/**
 * Picks Spring Session's attribute serializer: "jdk" is Spring Session's own
 * default (JdkSerializationRedisSerializer), "json" the JSON one most apps
 * switch to (GenericJackson2JsonRedisSerializer). Spring Session uses the
 * bean named springSessionDefaultRedisSerializer when there is one.
 */
@Configuration
public class SessionConfig {
    @Bean("springSessionDefaultRedisSerializer")
    public RedisSerializer<Object> springSessionDefaultRedisSerializer(@Value("${pgw.serializer:jdk}") String kind) {
        switch (kind) {
            case "jdk":
                return new JdkSerializationRedisSerializer(getClass().getClassLoader());
            case "json":
                return new GenericJackson2JsonRedisSerializer();
            default:
                throw new IllegalArgumentException("pgw.serializer must be jdk or json, got " + kind);
        }
    }
}
