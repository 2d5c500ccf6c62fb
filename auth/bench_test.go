package auth_test

import (
	"context"
	"fmt"
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

// BenchmarkCheckOverScanLimit is a message of 20 MB, base64 lines as an
// attachment's, signed and not: what the check costs on a message over
// limits.scan_limit, where it still runs.
func BenchmarkCheckOverScanLimit(b *testing.B) {
	c, k, _ := setup(b)
	line := strings.Repeat("QUJD", 19) + "\r\n" // 76 characters, as base64 wraps
	unsigned := msg("good.test", strings.Repeat(line, 20<<20/len(line)))
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"signed", sign(b, unsigned, "good.test", "rsa", k.rsa, time.Time{}), "DKIM_VALID"},
		{"unsigned", unsigned, "DMARC"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			parsed, _ := scan.Parse(strings.NewReader(tc.raw))
			message := func() *filter.Message { // a new one each time: the check keeps its results per message
				return &filter.Message{Env: &filter.Envelope{SPF: &filter.SPF{Result: "pass", Domain: "good.test", Identity: "mailfrom"}},
					Raw: strings.NewReader(tc.raw), Size: int64(len(tc.raw)), Parsed: parsed}
			}
			if r := c.Check(context.Background(), message()); !strings.Contains(fmt.Sprint(r.Tests), tc.want) {
				b.Fatalf("no %s: %+v", tc.want, r.Tests)
			}
			b.SetBytes(int64(len(tc.raw)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Check(context.Background(), message())
			}
		})
	}
}
