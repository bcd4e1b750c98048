package pgw.springlogin;

import java.util.Map;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpSession;

import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * Login and logout as a real app does them, minus the password check: the
 * login stores the three attributes the gateway reads (pgw.user,
 * pgw.tenant, pgw.roles); the logout invalidates the session, which
 * deletes it from Redis.
 */
@RestController
public class LoginController {
    @PostMapping("/login")
    public Map<String, Object> login(HttpServletRequest req,
                                     @RequestParam String user,
                                     @RequestParam String tenant,
                                     @RequestParam(defaultValue = "user") String roles) {
        HttpSession old = req.getSession(false);
        if (old != null) {
            old.invalidate(); // a new id at login (session fixation)
        }
        HttpSession s = req.getSession(true);
        s.setAttribute("pgw.user", user);
        s.setAttribute("pgw.tenant", tenant);
        s.setAttribute("pgw.roles", roles);
        return Map.of("session", s.getId(), "user", user, "tenant", tenant);
    }

    @GetMapping("/me")
    public ResponseEntity<Map<String, Object>> me(HttpServletRequest req) {
        HttpSession s = req.getSession(false);
        if (s == null) {
            return ResponseEntity.status(401).build();
        }
        return ResponseEntity.ok(Map.of("user", String.valueOf(s.getAttribute("pgw.user"))));
    }

    @PostMapping("/logout")
    public ResponseEntity<Void> logout(HttpServletRequest req) {
        HttpSession s = req.getSession(false);
        if (s != null) {
            s.invalidate();
        }
        return ResponseEntity.noContent().build();
    }
}
