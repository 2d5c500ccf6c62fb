package testutil

import "testing"

// FreePort never hands out a port twice: TestPostfixEndToEnd once got the milter's
// port again for the metrics endpoint.
func TestFreePortDistinct(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 200; i++ {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}
