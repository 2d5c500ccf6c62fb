package score

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The definitions the scanners in received.go implement.
var (
	ipRE   = regexp.MustCompile(`\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b`)
	hostRE = regexp.MustCompile(`(?i)\b(?:from|by)\s+([a-z0-9][a-z0-9.-]*\.[a-z]{2,})`)
)

func quadsOf(s string) []string {
	var out []string
	dottedQuads(s, 4, func(q [4]string) { out = append(out, strings.Join(q[:], ".")) })
	return out
}

func quadsRE(s string) []string {
	var out []string
	for _, m := range ipRE.FindAllStringSubmatch(s, 4) {
		out = append(out, strings.Join(m[1:], "."))
	}
	return out
}

func hostsOf(s string) []string {
	var out []string
	relayHosts(s, 4, func(h string) { out = append(out, h) })
	return out
}

func hostsRE(s string) []string {
	var out []string
	for _, m := range hostRE.FindAllStringSubmatch(s, 4) {
		out = append(out, m[1])
	}
	return out
}

func TestReceivedScanners(t *testing.T) {
	for _, s := range []string{
		"from mail.example.org (mail.example.org [192.0.2.1]) by mx.test.example (Postfix) with ESMTP id 4ABC; Mon, 1 Jan 2024",
		"FROM Relay-1.Example.COM ([10.0.0.1]) BY mx2.example.net",
		"from localhost (localhost [127.0.0.1])",      // no dot and letters after localhost
		"from x.y.z.example.com8 by a-b.c.de-f.gh by", // trailing digit, dash in the TLD's way
		"1234.5.6.7 1.2.3.4567 1.2.3.4a 1.2.3.4.5 _1.2.3.4 a1.2.3.4 01.002.3.4",
		"1.2.3.4,5.6.7.8;9.10.11.12 13.14.15.16 17.18.19.20", // a fifth quad is not looked for
		"fromage x.com, from\t\r\nwrapped.example.org, from .dot.example, from -dash.example, by x.c, by x.co",
		"from a..b.cd by ab.cd.ef.gh.ij.kl by", "", "from", "by 1.2.3.4",
		"\xff\xfefrom bad.utf8.example\xc3 by é.example.com",
	} {
		if got, want := quadsOf(s), quadsRE(s); !slices.Equal(got, want) {
			t.Errorf("dotted quads of %q: %q, want %q", s, got, want)
		}
		if got, want := hostsOf(s), hostsRE(s); !slices.Equal(got, want) {
			t.Errorf("hosts of %q: %q, want %q", s, got, want)
		}
	}
}

// FuzzReceivedScanners holds the scanners to the regular expressions. Under (?i) the
// expression's [a-z] also matches the Kelvin sign and the long s, two runes no host
// name has; the scanners take ASCII letters only, so inputs with those are left out.
func FuzzReceivedScanners(f *testing.F) {
	f.Add("from mail.example.org (mail.example.org [192.0.2.1]) by mx.test (Postfix)")
	f.Add("1.2.3.4 by a.bc 255.255.255.255 from x-y.z.example.com8")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, '\u212a') || strings.ContainsRune(s, '\u017f') {
			t.Skip()
		}
		if got, want := quadsOf(s), quadsRE(s); !slices.Equal(got, want) {
			t.Errorf("dotted quads of %q: %q, want %q", s, got, want)
		}
		if got, want := hostsOf(s), hostsRE(s); !slices.Equal(got, want) {
			t.Errorf("hosts of %q: %q, want %q", s, got, want)
		}
	})
}
