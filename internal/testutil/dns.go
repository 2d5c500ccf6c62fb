package testutil

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// DNSServer is an authoritative-for-everything DNS server on 127.0.0.1 (UDP and TCP on
// the same port) answering from a record table, so tests of block lists and sender
// authentication never send a query off the machine.
type DNSServer struct {
	Addr string // HOST:PORT

	mu      sync.Mutex
	records map[string][]dns.RR // "name.|TYPE"
	delay   map[string]time.Duration
	fail    map[string]int // rcode to answer with
	queries atomic.Int64
}

// StartDNS starts a DNS server on loopback that stops with the test.
func StartDNS(t testing.TB) *DNSServer {
	t.Helper()
	// UDP and TCP on one port number: the kernel picks a free UDP port, whose
	// number may be taken for TCP by another process (the tests of other packages
	// run at the same time), so a few tries.
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatalf("dns: listen udp: %v", err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if try == 20 {
			t.Fatalf("dns: listen tcp: %v", err)
		}
	}
	s := &DNSServer{Addr: pc.LocalAddr().String(), records: map[string][]dns.RR{},
		delay: map[string]time.Duration{}, fail: map[string]int{}}
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: ln, Handler: s}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	t.Cleanup(func() {
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
	})
	return s
}

// Add adds records in zone-file syntax, e.g. "2.0.0.127.zen.test. 300 IN A 127.0.0.2".
func (s *DNSServer) Add(t testing.TB, lines ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("dns: record %q: %v", l, err)
		}
		k := key(rr.Header().Name, rr.Header().Rrtype)
		s.records[k] = append(s.records[k], rr)
	}
}

// Delay makes queries for names under suffix wait d before the answer (a timeout test).
func (s *DNSServer) Delay(suffix string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay[dns.Fqdn(strings.ToLower(suffix))] = d
}

// Fail makes queries for names under suffix answer rcode (e.g. dns.RcodeServerFailure).
func (s *DNSServer) Fail(suffix string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[dns.Fqdn(strings.ToLower(suffix))] = rcode
}

// Queries is how many queries the server has answered (or dropped).
func (s *DNSServer) Queries() int64 { return s.queries.Load() }

func key(name string, qtype uint16) string {
	return strings.ToLower(dns.Fqdn(name)) + "|" + dns.TypeToString[qtype]
}

func under(name, suffix string) bool {
	return name == suffix || strings.HasSuffix(name, "."+suffix)
}

// ServeDNS answers from the table: NXDOMAIN for a name with no records at all.
func (s *DNSServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	var wait time.Duration
	for suf, d := range s.delay {
		if under(name, suf) {
			wait = d
		}
	}
	rcode := -1
	for suf, c := range s.fail {
		if under(name, suf) {
			rcode = c
		}
	}
	answer := append([]dns.RR(nil), s.records[key(name, q.Qtype)]...)
	exists := len(answer) > 0
	if !exists {
		for k := range s.records {
			if strings.HasPrefix(k, name+"|") {
				exists = true
			}
		}
	}
	s.mu.Unlock()
	if wait > 0 {
		time.Sleep(wait)
	}
	switch {
	case rcode >= 0:
		m.Rcode = rcode
	case !exists:
		m.Rcode = dns.RcodeNameError
	default:
		m.Answer = answer
	}
	_ = w.WriteMsg(m)
}
