package policy_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/postern/postern/policy"
)

// FuzzParseList: whatever a list file holds, ParseList either reads every
// entry line (Len counts them) or names the bad lines, each within the file,
// and a list it reads answers every lookup without a panic.
func FuzzParseList(f *testing.F) {
	for _, s := range []string{
		"client 192.0.2.0/24\nclient mail.example.com\nhelo .example.net\nfrom spammer@evil.example\nrcpt <>\n",
		"# comment\n192.0.2.1\n.example.org\n/^mx[0-9]+\\.example\\.com$/\n",
		"client /(/\nfrom @\nbogus x\nrcpt user@\nfrom @.example.com\n",
		"client 2001:db8::/32 # v6\nclient ::ffff:192.0.2.1\n",
	} {
		f.Add(s, "mx1.example.com", "user@evil.example")
	}
	f.Fuzz(func(t *testing.T, src, name, addr string) {
		lines := strings.Count(src, "\n") + 1
		l, err := policy.ParseList("f.list", strings.NewReader(src))
		if err != nil {
			var le *policy.LineError
			if errors.As(err, &le) && (le.File != "f.list" || le.Line < 1 || le.Line > lines) {
				t.Fatalf("%v: line outside the file's %d", le, lines)
			}
			return
		}
		entries := 0
		for _, line := range strings.Split(src, "\n") {
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			if strings.TrimSpace(line) != "" {
				entries++
			}
		}
		if l.Len() != entries && !strings.ContainsAny(src, "\r\v\f\u0085\u00a0") {
			t.Fatalf("Len %d, want %d entry lines", l.Len(), entries)
		}
		for _, ip := range []string{"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1"} {
			l.Client(netip.MustParseAddr(ip), name)
		}
		l.Helo(name)
		l.Sender(addr)
		l.Recipient(addr)
	})
}
