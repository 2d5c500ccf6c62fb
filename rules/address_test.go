package rules

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/scan"
)

// Addresses read as SpamAssassin 4's parser reads them (Util.pm,
// _parse_header_addresses; the cases from corpus spam and ordinary mail).
func TestParseHeaderAddresses(t *testing.T) {
	for _, c := range []struct{ in, addrs, names string }{
		{`"John Smith" <john@example.com>`, "john@example.com", "John Smith"},
		{`john@example.com (John)`, "john@example.com", "John"},
		{`John Smith <john@example.com>, jane@example.org`, "john@example.com|jane@example.org", "John Smith"},
		{"Fressnapf Gutschein, <angebote@newsletter.example.de.>, Fressnapf\r\n Gutschein, <angebote@newsletter.example.de>",
			"angebote@newsletter.example.de.|angebote@newsletter.example.de", "Fressnapf Gutschein|Fressnapf Gutschein"},
		{`"Transport@GLS.de", <service@stayfriends.example>`, "Transport@GLS.de|service@stayfriends.example", ""},
		{`undisclosed-recipients:;`, "", ""},
		{`friends: a@example.com, b@example.com;`, "a@example.com|b@example.com", ""},
		{`<john doe@example.com>`, "", ""},
		{`'Bob' <bob@example.com>`, "bob@example.com", "Bob"},
		{`=?UTF-8?Q?J=C3=B6rg?= <j@example.com>`, "j@example.com", "Jörg"},
		{`a@b@example.com`, "a@b", ""},
		// Left unread by the list's expression: every <address> in what is left.
		{`<jo@example.net>example.com, <al@example.net>example.com`, "jo@example.net|al@example.net", ""},
		{`=?utf-8?Q?"Foobar"?=<info=foobar.com@mlsend.com>`, "info=foobar.com@mlsend.com", "Foobar"},
		// White space is Perl's \s on bytes, ASCII's: a no-break space stays.
		{`"=?utf-8?B?RGV2aWNlIFNhZmV0eSBBbGVydHPCoA==?=" <a@example.com>`, "a@example.com", "Device Safety Alerts\u00a0"},
		{"\"=?utf-8?q?_A=C2=A0=09_B_?=\" <a@example.com>", "a@example.com", "A\u00a0 B"},
	} {
		addrs := strings.Join(addressParts(c.in, "addr"), "|")
		names := strings.Join(addressParts(c.in, "name"), "|")
		if addrs != c.addrs || names != c.names {
			t.Errorf("%q: addresses %q names %q, want %q %q", c.in, addrs, names, c.addrs, c.names)
		}
	}
}

// The plain lists' fast reading gives what the expressions give, on every
// address field of the corpus.
func TestPlainAddressesAgree(t *testing.T) {
	dir := corpus.Dir()
	var values []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || len(values) > 20000 {
			return nil
		}
		raw, err := readCorpus(p)
		if err != nil {
			return nil
		}
		m, _ := scan.Parse(bytes.NewReader(raw))
		for _, f := range []string{"From", "To", "Cc", "Reply-To", "Sender", "Return-Path", "Errors-To"} {
			values = append(values, m.Header.Values(f)...)
		}
		return nil
	})
	if len(values) == 0 {
		t.Skip("no corpus: run ../shared/corpus/get-corpus.sh")
	}
	values = append(values, `"a@b.example"<junk>`, `x <a@b@c.example>`, ` <> `, `"A, B" <a@b.example>, c@d.example`, `""@x.example`)
	for _, v := range values {
		v = strings.TrimSpace(v)
		fast := parseHeaderAddresses(v)
		slowAddressesOnly = true
		slow := parseHeaderAddresses(v)
		slowAddressesOnly = false
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%q:\nfast %+v\nslow %+v", v, fast, slow)
		}
	}
}

// :name:raw is the display name as written (encoded words kept), :name decoded.
func TestNameRaw(t *testing.T) {
	dir := writeRules(t, map[string]string{"n.cf": "header T_RAW From:name:raw =~ /=\\?UTF-8\\?/\nscore T_RAW 1\nheader T_DEC From:name =~ /=\\?UTF-8\\?/\nscore T_DEC 1\n"})
	s, problems := Load(filepath.Join(dir, "n.cf"))
	if len(Errors(problems)) > 0 {
		t.Fatal(problems)
	}
	got := hitNames(t, s, msgOf(t, "From: =?UTF-8?Q?J=C3=B6rg?= <j@example.com>\nSubject: x\n\nx\n"))
	if !slices.Equal(got, []string{"T_RAW"}) {
		t.Errorf("hits %v, want [T_RAW]", got)
	}
}

// :name:shown is the display name as the reader sees it: "Lеԁgеr" with three
// Cyrillic letters is Ledger there, and only there.
func TestNameShown(t *testing.T) {
	dir := writeRules(t, map[string]string{"n.cf": "header T_SHOWN From:name:shown =~ /^Ledger$/\nscore T_SHOWN 1\nheader T_NAME From:name =~ /^Ledger$/\nscore T_NAME 1\n"})
	s, problems := Load(filepath.Join(dir, "n.cf"))
	if len(Errors(problems)) > 0 {
		t.Fatal(problems)
	}
	got := hitNames(t, s, msgOf(t, "From: =?UTF-8?Q?L=D0=B5=D4=81g=D0=B5r?= <j@example.com>\nSubject: x\n\nx\n"))
	if !slices.Equal(got, []string{"T_SHOWN"}) {
		t.Errorf("hits %v, want [T_SHOWN]", got)
	}
}

// BenchmarkParseHeaderAddresses reads two plain fields (four addresses) by hand,
// and through SpamAssassin's expressions alone (docs/benchmarks.md).
func BenchmarkParseHeaderAddresses(b *testing.B) {
	for _, slow := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "expressions"}[slow], func(b *testing.B) {
			slowAddressesOnly = slow
			defer func() { slowAddressesOnly = false }()
			for i := 0; i < b.N; i++ {
				parseHeaderAddresses(`"John Smith" <john@example.com>`)
				parseHeaderAddresses(`a@example.com, Bob <b@example.org>, "C, D" <c@example.net>`)
			}
		})
	}
	// A long list that only the expressions read (a comment in each address):
	// its time must grow with its length, not with its square.
	for _, n := range []int{100, 1000, 4000} {
		var l strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&l, "user%d@example.com (User %d), ", i, i)
		}
		list := l.String()
		if got := len(parseHeaderAddresses(list)); got != n {
			b.Fatalf("%d addresses in a list of %d", got, n)
		}
		b.Run(fmt.Sprintf("list-%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(list)))
			for i := 0; i < b.N; i++ {
				parseHeaderAddresses(list)
			}
		})
	}
}
