package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/scan"
)

// BenchmarkCheck is the time sender authentication adds to one message with a warm
// DNS cache: one DKIM signature (RSA 1024, relaxed) verified, DMARC evaluated, ARC
// looked for, the header written.
//
//	go test -run '^$' -bench . -benchtime 2000x ./auth
func BenchmarkCheck(b *testing.B) {
	c, k, _ := setup(b)
	raw := sign(b, msg("good.test", strings.Repeat("A line of a typical message body.\r\n", 100)), "good.test", "rsa", k.rsa, time.Time{})
	parsed, _ := scan.Parse(strings.NewReader(raw))
	m := &filter.Message{Env: &filter.Envelope{SPF: &filter.SPF{Result: "pass", Domain: "good.test", Identity: "mailfrom"}},
		Raw: strings.NewReader(raw), Size: int64(len(raw)), Parsed: parsed}
	c.Check(context.Background(), m) // warm the cache
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := c.Check(context.Background(), m); len(r.Tests) == 0 {
			b.Fatal("no results")
		}
	}
}
