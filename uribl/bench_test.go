package uribl

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/postern/postern/internal/corpusmsg"
	"github.com/postern/postern/resolver"
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
	msgs := corpusmsg.Messages(b)
	for _, tc := range lookupCases {
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

// lookupCases are the lists the benchmarks ask: a domain list, and address
// lists of the hosts or of the name servers beside it.
var lookupCases = []struct {
	name  string
	zones []Zone
}{
	{"domains", []Zone{{Name: "dbl.test"}}},
	{"domains+hosts", []Zone{{Name: "dbl.test"}, {Name: "sbl.test", Asks: HostAddresses}}},
	{"domains+nameservers", []Zone{{Name: "dbl.test"}, {Name: "sbl.test", Asks: NameServerAddresses}}},
	{"all", []Zone{{Name: "dbl.test"}, {Name: "sbl.test", Asks: HostAddresses}, {Name: "sbl.test", Asks: NameServerAddresses}}},
}

// BenchmarkCorpusQueries is BenchmarkCorpusLookups behind Postern's own
// resolver and its cache ([dns] cache_size, 10,000 answers by default), with
// the made-up answers served over UDP on loopback: the queries that reach the
// resolver Postern is pointed at, a corpus message, the corpus checked in
// order. The answers' TTL is an hour, as a list's negative answers and most
// name servers' records are.
//
//	go test ./uribl -run '^$' -bench CorpusQueries -benchtime 1x
func BenchmarkCorpusQueries(b *testing.B) {
	msgs := corpusmsg.Messages(b)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var queries atomic.Int64
	made := &madeUpDNS{}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		queries.Add(1)
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		name := strings.TrimSuffix(q.Name, ".")
		switch {
		case q.Qtype == dns.TypeNS && !strings.HasSuffix(name, ".test"):
			m.Answer, _ = made.Lookup(context.Background(), name, q.Qtype)
		case q.Qtype == dns.TypeA && !strings.HasSuffix(name, ".test"):
			addrs, _ := made.LookupIP(context.Background(), name, q.Qtype)
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600}, A: addrs[0].AsSlice()}}
		default:
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 3600}, Ns: "ns.test.", Mbox: "h.test.", Minttl: 3600}}
		}
		for _, rr := range m.Answer {
			rr.Header().Class, rr.Header().Ttl = dns.ClassINET, 3600
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	b.Cleanup(func() { _ = srv.Shutdown() })
	for _, tc := range lookupCases {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r, err := resolver.New(pc.LocalAddr().String(), resolver.Options{Timeout: 2 * time.Second, CacheSize: 10000})
				if err != nil {
					b.Fatal(err)
				}
				c := &Check{Zones: tc.zones, Resolver: r, MaxDomains: 20}
				before := queries.Load()
				for _, m := range msgs {
					if res := c.Check(context.Background(), m); len(res.Notes) > 0 {
						b.Fatal(res.Notes)
					}
				}
				b.ReportMetric(float64(queries.Load()-before)/float64(len(msgs)), "queries/msg")
			}
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
