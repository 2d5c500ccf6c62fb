package uribl

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/scan"
)

// BenchmarkCorpusLookups counts the DNS lookups the check asks of the resolver
// for each corpus message, before the resolver's cache, with a domain list
// alone and with the address lists added (ip_zones, ns_zones): what each kind
// of list costs in queries. No DNS server: the answers are made up, every list
// answers "not listed", every host has one public address, and every domain
// two name servers of one of 20 providers (most domains' DNS is hosted by a
// few providers, so their name servers repeat across a message's domains).
//
//	go test ./uribl -run '^$' -bench CorpusLookups -benchtime 1x
func BenchmarkCorpusLookups(b *testing.B) {
	samples, err := corpus.List(corpus.Dir())
	if err != nil || len(samples) == 0 {
		b.Skipf("no corpus (run ../shared/corpus/get-corpus.sh): %v", err)
	}
	var msgs []*filter.Message
	for _, s := range samples {
		raw, err := os.ReadFile(s.Path)
		if err != nil {
			b.Fatal(err)
		}
		parsed, err := scan.Parse(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, &filter.Message{Parsed: parsed})
	}
	for _, tc := range []struct {
		name  string
		zones []Zone
	}{
		{"domains", []Zone{{Name: "dbl.test"}}},
		{"domains+hosts", []Zone{{Name: "dbl.test"}, {Name: "sbl.test", Asks: HostAddresses}}},
		{"domains+nameservers", []Zone{{Name: "dbl.test"}, {Name: "sbl.test", Asks: NameServerAddresses}}},
		{"all", []Zone{{Name: "dbl.test"}, {Name: "sbl.test", Asks: HostAddresses}, {Name: "sbl.test", Asks: NameServerAddresses}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := &madeUpDNS{}
			c := &Check{Zones: tc.zones, Resolver: l, MaxDomains: 20}
			most := int64(0)
			for i := 0; i < b.N; i++ {
				for _, m := range msgs {
					before := l.n.Load()
					c.Check(context.Background(), m)
					most = max(most, l.n.Load()-before)
				}
			}
			b.ReportMetric(float64(l.n.Load())/float64(b.N*len(msgs)), "lookups/msg")
			b.ReportMetric(float64(most), "most/msg")
		})
	}
}

// madeUpDNS answers as BenchmarkCorpusLookups says, and counts the lookups.
type madeUpDNS struct{ n atomic.Int64 }

func (d *madeUpDNS) LookupIP(_ context.Context, name string, _ uint16) ([]netip.Addr, error) {
	d.n.Add(1)
	if strings.HasSuffix(name, ".test") {
		return nil, nil
	}
	h := hash(name)
	return []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, byte(h)})}, nil
}

func (d *madeUpDNS) Lookup(_ context.Context, name string, _ uint16) ([]dns.RR, error) {
	d.n.Add(1)
	p := hash(name) % 20
	var out []dns.RR
	for _, ns := range []string{"ns1", "ns2"} {
		out = append(out, &dns.NS{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeNS}, Ns: fmt.Sprintf("%s.provider%d.example.", ns, p)})
	}
	return out, nil
}

func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
