package resolver_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/resolver"
)

func TestLookup(t *testing.T) {
	srv := testutil.StartDNS(t)
	srv.Add(t,
		"2.0.0.127.bl.test. 300 IN A 127.0.0.2",
		"2.0.0.127.bl.test. 300 IN A 127.0.0.10",
		"2.0.0.127.bl.test. 300 IN TXT \"listed, see\" \" http://bl.test/\"",
		"mx.test. 300 IN MX 10 mail.test.",
	)
	srv.Delay("slow.test", time.Second)
	srv.Fail("broken.test", dns.RcodeServerFailure)
	r, err := resolver.New(srv.Addr, resolver.Options{Timeout: 200 * time.Millisecond, CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name    string
		qtype   uint16
		want    []string
		wantErr error
		anyErr  bool
	}{
		{"2.0.0.127.bl.test", dns.TypeA, []string{"127.0.0.2", "127.0.0.10"}, nil, false},
		{"2.0.0.127.BL.test.", dns.TypeA, []string{"127.0.0.2", "127.0.0.10"}, nil, false}, // case, trailing dot
		{"3.0.0.127.bl.test", dns.TypeA, nil, nil, false},                                  // NXDOMAIN: no answer, no error
		{"mx.test", dns.TypeA, nil, nil, false},                                            // NODATA
		{"1.slow.test", dns.TypeA, nil, resolver.ErrTimeout, true},
		{"1.broken.test", dns.TypeA, nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.LookupIP(ctx, tc.name, tc.qtype)
			if tc.anyErr {
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].String() != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
	txt, err := r.LookupTXT(ctx, "2.0.0.127.bl.test")
	if err != nil || len(txt) != 1 || txt[0] != "listed, see http://bl.test/" {
		t.Fatalf("TXT = %q, %v", txt, err)
	}
}

func TestCache(t *testing.T) {
	srv := testutil.StartDNS(t)
	srv.Add(t, "2.0.0.127.bl.test. 300 IN A 127.0.0.2")
	r, _ := resolver.New(srv.Addr, resolver.Options{CacheSize: 10})
	for i := 0; i < 5; i++ {
		if _, err := r.LookupIP(context.Background(), "2.0.0.127.bl.test", dns.TypeA); err != nil {
			t.Fatal(err)
		}
		if _, err := r.LookupIP(context.Background(), "9.0.0.127.bl.test", dns.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	if q := srv.Queries(); q != 2 {
		t.Fatalf("server saw %d queries, want 2 (one positive, one negative, then cached)", q)
	}
	if s := r.Stats(); s.CacheHits != 8 {
		t.Fatalf("stats %+v", s)
	}
}

func TestReverseIP(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":        "1.2.0.192",
		"::ffff:192.0.2.1": "1.2.0.192",
		"2001:db8::1":      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2",
	} {
		if got := resolver.ReverseIP(netip.MustParseAddr(in)); got != want {
			t.Errorf("ReverseIP(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestListed(t *testing.T) {
	for in, want := range map[string]bool{
		"127.0.0.2": true, "127.0.1.2": true, "127.0.0.64": true, "::ffff:127.0.0.2": true,
		"127.0.0.1": false, "127.255.255.254": false, "127.255.255.252": false,
		"10.0.0.1": false, "192.0.2.1": false, "::1": false,
	} {
		if got := resolver.Listed(netip.MustParseAddr(in)); got != want {
			t.Errorf("Listed(%s) = %v, want %v", in, got, want)
		}
	}
	// A refusal is neither a listing nor silence: the lists' "blocked" codes.
	for in, want := range map[string]bool{
		"127.0.0.1": true, "127.255.255.254": true, "127.255.255.255": true, "::ffff:127.0.0.1": true,
		"127.0.0.2": false, "127.0.1.255": false, "127.255.254.1": false, "10.0.0.1": false, "::1": false,
	} {
		if got := resolver.Refusal(netip.MustParseAddr(in)); got != want {
			t.Errorf("Refusal(%s) = %v, want %v", in, got, want)
		}
	}
}
