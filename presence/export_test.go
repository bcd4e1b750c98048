package presence

// SetAfterReapMark makes r's reaper run f after it has marked a node
// reaped and before it removes the node's connections, so a test can put
// the node's own heartbeat in that window.
func SetAfterReapMark(r *Redis, f func(node string)) { r.afterReapMark = f }
