package io.github.pgw.client;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's plain Java 8 example compiles against this library with {@code --release 8}. (The
 * Spring example needs Spring on the class path, which this build does not carry.)
 */
class ReadmeExampleTest {
    @Test
    void plainJava8ExampleCompiles(@TempDir Path dir) throws Exception {
        String readme = new String(Files.readAllBytes(Paths.get("README.md")), StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("```java\n(.*?public class PresenceReport.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(), "README.md has the PresenceReport example");
        Path src = dir.resolve("PresenceReport.java");
        Files.write(src, m.group(1).getBytes(StandardCharsets.UTF_8));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "a JDK runs the tests");
        StringWriter out = new StringWriter();
        boolean ok = javac.getTask(out, null, null,
                Arrays.asList("--release", "8", "-Xlint:-options", "-classpath", System.getProperty("java.class.path"), "-d", dir.toString()),
                null, javac.getStandardFileManager(null, null, StandardCharsets.UTF_8).getJavaFileObjects(src.toFile())).call();
        assertTrue(ok, "the example does not compile:\n" + out);
    }
}
