package rules

import (
	"strings"
	"testing"
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
	} {
		addrs := strings.Join(addressParts(c.in, true), "|")
		names := strings.Join(addressParts(c.in, false), "|")
		if addrs != c.addrs || names != c.names {
			t.Errorf("%q: addresses %q names %q, want %q %q", c.in, addrs, names, c.addrs, c.names)
		}
	}
}
