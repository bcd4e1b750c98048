package io.github.pgw.client.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;

/**
 * The built jar runs on Java 8: every class in it has class-file major version 52. (javac
 * --release 8 also refuses any API newer than Java 8 at compile time.)
 */
class JarIT {
    @Test
    void everyClassIsJava8Bytecode() throws IOException {
        Path jar = Paths.get(System.getProperty("pgw.jar", "target/pgw-client-0.1.0.jar"));
        assertTrue(Files.exists(jar), jar + " was built (mvn verify runs after package)");
        List<String> wrong = new ArrayList<>();
        int classes = 0;
        try (JarFile jf = new JarFile(jar.toFile())) {
            for (Enumeration<JarEntry> en = jf.entries(); en.hasMoreElements(); ) {
                JarEntry e = en.nextElement();
                if (!e.getName().endsWith(".class")) continue;
                classes++;
                try (InputStream in = jf.getInputStream(e); DataInputStream d = new DataInputStream(in)) {
                    int magic = d.readInt();
                    d.readUnsignedShort(); // minor
                    int major = d.readUnsignedShort();
                    if (magic != 0xCAFEBABE || major != 52) wrong.add(e.getName() + " (major " + major + ")");
                }
            }
        }
        assertTrue(classes > 10, "the jar has the library's classes: " + classes);
        assertEquals(new ArrayList<String>(), wrong, "classes that are not Java 8 bytecode");
    }
}
