package policy_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postern/postern/policy"
)

const sampleList = `# allow list
client 192.0.2.7
client 198.51.100.0/24
client 2001:db8:5::/48
client mail.partner.example       # and names under it
client /^mx[0-9]+\.bulk\.example$/
helo   .trusted.example
from   boss@corp.example
from   newsletters.example
from   @exact.example
from   billing@
from   <>
rcpt   spamlover@example.org
mx.postgrey-style.example          # postgrey whitelist_clients form
203.0.113.0/28
`

func TestListMatch(t *testing.T) {
	l, err := policy.ParseList("allow.list", strings.NewReader(sampleList))
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 14 {
		t.Fatalf("Len = %d", l.Len())
	}
	ip := netip.MustParseAddr
	tests := []struct {
		name  string
		match *policy.Match
		where string // "" for no match
	}{
		{"address", l.Client(ip("192.0.2.7"), "unknown"), "allow.list:2"},
		{"other address", l.Client(ip("192.0.2.8"), "unknown"), ""},
		{"network", l.Client(ip("198.51.100.200"), ""), "allow.list:3"},
		{"mapped v4", l.Client(ip("::ffff:198.51.100.1"), ""), "allow.list:3"},
		{"v6 network", l.Client(ip("2001:db8:5:1::1"), ""), "allow.list:4"},
		{"host name", l.Client(ip("10.0.0.1"), "mail.partner.example"), "allow.list:5"},
		{"name under it", l.Client(ip("10.0.0.1"), "out1.mail.partner.example."), "allow.list:5"},
		{"suffix is per label", l.Client(ip("10.0.0.1"), "evilmail.partner.example.net"), ""},
		{"unknown never matches a name", l.Client(ip("10.0.0.1"), "unknown"), ""},
		{"regexp", l.Client(ip("10.0.0.1"), "MX12.bulk.example"), "allow.list:6"},
		{"postgrey name", l.Client(ip("10.0.0.1"), "a.mx.postgrey-style.example"), "allow.list:14"},
		{"postgrey network", l.Client(ip("203.0.113.15"), ""), "allow.list:15"},
		{"helo suffix", l.Helo("relay.trusted.example"), "allow.list:7"},
		{"helo exact name not a suffix", l.Helo("trusted.example"), ""},
		{"sender", l.Sender("<Boss@Corp.Example>"), "allow.list:8"},
		{"sender with extension", l.Sender("boss+x@corp.example"), "allow.list:8"},
		{"sender domain and below", l.Sender("a@eu.newsletters.example"), "allow.list:9"},
		{"@domain is exact", l.Sender("a@sub.exact.example"), ""},
		{"@domain", l.Sender("a@exact.example"), "allow.list:10"},
		{"local part", l.Sender("billing@anywhere.example"), "allow.list:11"},
		{"null sender", l.Sender("<>"), "allow.list:12"},
		{"recipient", l.Recipient("<spamlover@example.org>"), "allow.list:13"},
		{"not a recipient entry", l.Recipient("boss@corp.example"), ""},
	}
	for _, tc := range tests {
		got := ""
		if tc.match != nil {
			got = tc.match.Where
		}
		if got != tc.where {
			t.Errorf("%s: matched %q, want %q", tc.name, got, tc.where)
		}
	}
}

func TestListErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.list")
	bad := filepath.Join(dir, "bad.list")
	os.WriteFile(good, []byte("client 192.0.2.1\n"), 0o644)
	os.WriteFile(bad, []byte("client 192.0.2.1\nclient 300.1.2.0/24\nfrom a b c\nsender x@y\nclient /([/\nrcpt @\n"), 0o644)
	_, err := policy.LoadLists([]string{good, bad})
	if err == nil {
		t.Fatal("no error")
	}
	var lines []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var le *policy.LineError
		if !errors.As(e, &le) || le.File != bad {
			t.Fatalf("error %v is not a LineError of %s", e, bad)
		}
		lines = append(lines, le.Line)
	}
	if got := len(lines); got != 5 || lines[0] != 2 || lines[4] != 6 {
		t.Fatalf("error lines %v, want 2..6: %v", lines, err)
	}
	if _, err := policy.LoadLists([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("missing file: no error")
	}
	l, err := policy.LoadLists([]string{good})
	if err != nil || l.Len() != 1 {
		t.Fatalf("good: %v", err)
	}
}

// The shipped list of senders that retry badly must load as it is.
func TestShippedGreylistAllowList(t *testing.T) {
	l, err := policy.LoadLists([]string{"../contrib/greylist-allow.list"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Client(netip.MustParseAddr("209.85.128.1"), "mail-wm1-f41.google.com") == nil {
		t.Error("a Gmail outbound host is not on the shipped list")
	}
}
