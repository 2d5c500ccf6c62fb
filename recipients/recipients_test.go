package recipients

import "testing"

func num(f float64) *float64 { return &f }

func TestLookup(t *testing.T) {
	tab, err := New(map[string]Settings{
		"@Customer.example":     {RejectScore: num(10)},
		"ceo@customer.example":  {RejectScore: num(1000)},
		"news+list@example.org": {RequiredScore: num(8)},
		"user@example.org":      {RequiredScore: num(4)},
		"@.hosted.example":      {RejectScore: num(20)},
		"@.eu.hosted.example":   {RejectScore: num(12)},
		"@eu.hosted.example":    {RejectScore: num(11)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rcpt, want string
	}{
		{"<sales@customer.example>", "@Customer.example"},
		{"SALES@CUSTOMER.EXAMPLE", "@Customer.example"},
		{"<ceo@customer.example>", "ceo@customer.example"}, // the address wins over its domain
		{"ceo+board@customer.example", "ceo@customer.example"},
		{"user+tag@example.org", "user@example.org"},
		{"news+list@example.org", "news+list@example.org"}, // its own entry first
		{"news@example.org", ""},
		{"user@sub.customer.example", ""}, // a domain is that domain only
		{"a@shop.hosted.example", "@.hosted.example"},
		{"a@a.b.hosted.example", "@.hosted.example"},
		{"a@hosted.example", ""},                         // "@.domain" is its subdomains, as Postfix's ".domain"
		{"a@x.eu.hosted.example", "@.eu.hosted.example"}, // the nearest parent
		{"a@eu.hosted.example", "@eu.hosted.example"},    // the domain's own entry first
		{"a@nothosted.example", ""},
		{"other@example.org", ""},
		{"<>", ""},
		{"postmaster", ""},
	} {
		got := ""
		if s := tab.Lookup(tc.rcpt); s != nil {
			got = s.Key
		}
		if got != tc.want {
			t.Errorf("Lookup(%q) = %q, want %q", tc.rcpt, got, tc.want)
		}
	}
	var none *Table
	if none.Lookup("a@b.example") != nil || none.Len() != 0 {
		t.Error("the nil table has an entry")
	}
}

func TestNewRefuses(t *testing.T) {
	for _, key := range []string{"example.org", "@", "a@b@c.example", "<a@b.example>", "a b@c.example", "user@", "@.", "@..example", "a@.example", "@example."} {
		if _, err := New(map[string]Settings{key: {}}); err == nil {
			t.Errorf("%q accepted", key)
		}
	}
	if _, err := New(map[string]Settings{"@A.example": {}, "@a.example": {}}); err == nil {
		t.Error("one domain twice accepted")
	}
}

// TestNewSet: a set takes a key twice (its entries have no settings to
// disagree), refuses what is no key, and tells its members.
func TestNewSet(t *testing.T) {
	s, err := NewSet([]string{"it@example.com", "IT@example.com", "@lab.example", "@.lab.example"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 || s.Lookup("<it+x@EXAMPLE.com>") == nil || s.Lookup("a@lab.example") == nil || s.Lookup("a@x.lab.example") == nil || s.Lookup("a@example.com") != nil {
		t.Errorf("set %d entries, lookups wrong", s.Len())
	}
	if _, err := NewSet([]string{"lab.example"}); err == nil {
		t.Error("a key that is no address accepted")
	}
}
