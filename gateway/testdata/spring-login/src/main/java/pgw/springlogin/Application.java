package pgw.springlogin;

import java.io.File;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.web.context.WebServerPortFileWriter;

/**
 * A web app that keeps its logins in Spring Session (Redis). The gateway
 * test starts it with --pgw.serializer=jdk or json and reads the port it
 * listens on from the file named by --pgw.port-file (no fixed ports).
 */
@SpringBootApplication
public class Application {
    public static void main(String[] args) {
        SpringApplication app = new SpringApplication(Application.class);
        String portFile = System.getProperty("pgw.port-file");
        for (String a : args) {
            if (a.startsWith("--pgw.port-file=")) {
                portFile = a.substring("--pgw.port-file=".length());
            }
        }
        if (portFile != null) {
            app.addListeners(new WebServerPortFileWriter(new File(portFile)));
        }
        app.run(args);
    }
}
