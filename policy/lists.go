package policy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strings"

	"github.com/postern/postern/recipients"
)

// List is a set of allow- or deny-list entries read from files, one per line:
//
//	client 192.0.2.7            an address
//	client 198.51.100.0/24      a network (IPv4 or IPv6)
//	client mail.example.com     a verified client host name and the names under it
//	client /^mx\d+\.example\./  a regular expression on the client host name
//	helo   mail.example.com     the HELO name, exactly (".example.com": any name under it)
//	from   user@example.com     an envelope sender (a +extension is ignored)
//	from   example.com          a sender domain and its subdomains (@example.com: only it)
//	from   user@                a local part at any domain
//	from   <>                   the null sender of bounces
//	rcpt   …                    a recipient, in the forms of from
//
// A line with one word and no keyword is read as in postgrey's whitelist_clients files
// (an address, a network, /regex/ or a host name), so those lists can be used as they
// are. '#' starts a comment.
type List struct {
	nets    []entry
	names   []entry // client host name suffixes
	regexps []entry
	helos   []entry
	from    []entry
	rcpt    []entry
	files   []string
	n       int
}

type entry struct {
	value  string
	prefix netip.Prefix
	re     *regexp.Regexp
	src    string // file:line, for logs
}

// Match says which entry matched, for logs and replies.
type Match struct {
	Kind  string // client, helo, from, rcpt
	Value string // the entry as written
	Where string // file:line
}

func (m *Match) String() string {
	if m == nil {
		return ""
	}
	return fmt.Sprintf("%s %s (%s)", m.Kind, m.Value, m.Where)
}

// LineError is one bad line in a list file.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// LoadLists reads list files in order into one List. Every bad line is reported
// (errors.Join of *LineError), and then no List is returned: callers keep the old one.
func LoadLists(paths []string) (*List, error) {
	l := &List{}
	var errs []error
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy: list: %w", err))
			continue
		}
		errs = append(errs, l.parse(p, f)...)
		f.Close()
		l.files = append(l.files, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return l, nil
}

// ParseList reads one list from r; name is used in error positions.
func ParseList(name string, r io.Reader) (*List, error) {
	l := &List{files: []string{name}}
	if errs := l.parse(name, r); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return l, nil
}

// Len is the number of entries.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return l.n
}

// Files are the files the list was read from.
func (l *List) Files() []string {
	if l == nil {
		return nil
	}
	return l.files
}

func (l *List) parse(name string, r io.Reader) []error {
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		src := fmt.Sprintf("%s:%d", name, ln)
		if err := l.add(f, src); err != nil {
			errs = append(errs, &LineError{name, ln, err.Error()})
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("policy: list %s: %w", name, err))
	}
	return errs
}

// Kinds of entries a list line can start with.
var kinds = []string{"client", "helo", "from", "rcpt"}

func (l *List) add(f []string, src string) error {
	kind, value := "client", f[0]
	switch len(f) {
	case 1: // postgrey's whitelist_clients form
	case 2:
		kind, value = strings.ToLower(f[0]), f[1]
	default:
		return fmt.Errorf("want KIND VALUE (KIND one of %s), got %d words", strings.Join(kinds, ", "), len(f))
	}
	e := entry{value: value, src: src}
	switch kind {
	case "client":
		switch {
		case len(value) > 2 && value[0] == '/' && value[len(value)-1] == '/':
			re, err := regexp.Compile("(?i)" + value[1:len(value)-1])
			if err != nil {
				return fmt.Errorf("client %s: %v", value, err)
			}
			e.re = re
			l.regexps = append(l.regexps, e)
		case strings.Contains(value, "/"):
			p, err := netip.ParsePrefix(value)
			if err != nil {
				return fmt.Errorf("client %s: not a network: %v", value, err)
			}
			e.prefix = p.Masked()
			l.nets = append(l.nets, e)
		default:
			if a, err := netip.ParseAddr(value); err == nil {
				e.prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
				l.nets = append(l.nets, e)
				break
			}
			if !hostname(strings.TrimPrefix(value, ".")) {
				return fmt.Errorf("client %q: not an address, a network, /regex/ or a host name", value)
			}
			e.value = strings.ToLower(value)
			l.names = append(l.names, e)
		}
	case "helo":
		if !hostname(strings.Trim(value, ".[]")) {
			return fmt.Errorf("helo %q: not a host name", value)
		}
		e.value = strings.ToLower(value)
		l.helos = append(l.helos, e)
	case "from", "rcpt":
		v := strings.ToLower(value)
		if v != "<>" {
			v = strings.Trim(v, "<>")
			local, domain, at := strings.Cut(v, "@")
			if (at && local == "" && domain == "") || (domain != "" && !hostname(strings.TrimPrefix(domain, "."))) ||
				(!at && !hostname(strings.TrimPrefix(local, "."))) {
				return fmt.Errorf("%s %q: want user@domain, domain, @domain, user@ or <>", kind, value)
			}
		}
		e.value = v
		if kind == "from" {
			l.from = append(l.from, e)
		} else {
			l.rcpt = append(l.rcpt, e)
		}
	default:
		return fmt.Errorf("unknown kind %q: want one of %s", f[0], strings.Join(kinds, ", "))
	}
	l.n++
	return nil
}

func hostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Client matches the client's address and its verified host name ("" or "unknown"
// when Postfix could not verify one: then names never match).
func (l *List) Client(ip netip.Addr, name string) *Match {
	if l == nil {
		return nil
	}
	if ip.IsValid() {
		ip = ip.Unmap()
		for _, e := range l.nets {
			if e.prefix.Contains(ip) {
				return e.match("client")
			}
		}
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" || name == "unknown" {
		return nil
	}
	for _, e := range l.names {
		if suffixMatch(name, e.value) {
			return e.match("client")
		}
	}
	for _, e := range l.regexps {
		if e.re.MatchString(name) {
			return e.match("client")
		}
	}
	return nil
}

// suffixMatch: "example.com" matches it and names under it; ".example.com" only
// names under it.
func suffixMatch(name, pattern string) bool {
	if strings.HasPrefix(pattern, ".") {
		return strings.HasSuffix(name, pattern)
	}
	return name == pattern || strings.HasSuffix(name, "."+pattern)
}

// Helo matches the HELO name.
func (l *List) Helo(helo string) *Match {
	if l == nil || helo == "" {
		return nil
	}
	helo = strings.ToLower(strings.TrimSuffix(helo, "."))
	for _, e := range l.helos {
		if e.value == helo || strings.HasPrefix(e.value, ".") && strings.HasSuffix(helo, e.value) {
			return e.match("helo")
		}
	}
	return nil
}

// Sender matches the envelope sender ("" or "<>" is the null sender).
func (l *List) Sender(addr string) *Match {
	if l == nil {
		return nil
	}
	return matchAddr(l.from, "from", addr)
}

// Recipient matches one envelope recipient.
func (l *List) Recipient(addr string) *Match {
	if l == nil {
		return nil
	}
	return matchAddr(l.rcpt, "rcpt", addr)
}

func matchAddr(es []entry, kind, addr string) *Match {
	addr = recipients.NormalizeAddr(addr)
	local, domain, _ := strings.Cut(addr, "@")
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	for _, e := range es {
		v := e.value
		var ok bool
		switch {
		case v == "<>":
			ok = addr == ""
		case addr == "":
		case strings.HasSuffix(v, "@"):
			ok = local == v[:len(v)-1]
		case strings.HasPrefix(v, "@"):
			ok = domain == v[1:]
		case strings.Contains(v, "@"):
			ok = addr == v || local+"@"+domain == v
		default:
			ok = suffixMatch(domain, v)
		}
		if ok {
			return e.match(kind)
		}
	}
	return nil
}

func (e entry) match(kind string) *Match { return &Match{Kind: kind, Value: e.value, Where: e.src} }
