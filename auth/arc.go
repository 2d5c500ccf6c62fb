package auth

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

// ARC (RFC 8617): each intermediary that changes a message (a mailing list adding a
// footer breaks DKIM, forwarding breaks SPF) records what it saw in an
// ARC-Authentication-Results header and signs the message (ARC-Message-Signature)
// and the chain so far (ARC-Seal). go-msgauth has no ARC, so this file verifies
// chains: the newest message signature, and every seal.

// ARCResult is a message's ARC chain verification.
type ARCResult struct {
	Result   string // none, pass, fail
	Instance int    // the number of sets in the chain
	Sealer   string // d= of the newest ARC-Seal
	Reason   string
	// OldestResults is what the first intermediary's ARC-Authentication-Results
	// said (without its i= tag): the results the message had before it changed.
	OldestResults string
}

// maxARCSets is RFC 8617 4.2.1's limit on the instances of a chain.
const maxARCSets = 50

type headerField struct {
	name string // as written
	raw  string // the whole field, name, colon, value, with its folding and CRLF
}

func (h headerField) value() string {
	_, v, _ := strings.Cut(h.raw, ":")
	return v
}

// readFields reads the header block of a message into fields; body is the rest.
func readFields(r io.Reader) ([]headerField, *bufio.Reader, error) {
	br := bufio.NewReader(r)
	var fields []headerField
	for {
		line, err := br.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			if err == io.EOF {
				return fields, br, nil
			}
			return nil, nil, err
		}
		if line == "\r\n" || line == "\n" {
			return fields, br, nil
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1].raw += line
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		fields = append(fields, headerField{name: strings.TrimSpace(name), raw: line})
		if err == io.EOF {
			return fields, br, nil
		}
	}
}

// parseTags reads a DKIM-style tag list ("a=rsa-sha256; d=example.org; ...").
func parseTags(s string) map[string]string {
	tags := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		tags[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return tags
}

func stripWS(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// withoutB empties the b= tag of a signature field, leaving every other byte.
func withoutB(raw string) string {
	name, value, _ := strings.Cut(raw, ":")
	parts := strings.Split(value, ";")
	for i, p := range parts {
		k, _, ok := strings.Cut(p, "=")
		if ok && strings.TrimSpace(k) == "b" {
			parts[i] = p[:strings.IndexByte(p, '=')+1]
		}
	}
	return name + ":" + strings.Join(parts, ";")
}

// relaxedHeader is RFC 6376 3.4.2's relaxed canonical form of a field.
func relaxedHeader(raw string) string {
	name, value, _ := strings.Cut(raw, ":")
	value = strings.NewReplacer("\r\n", "", "\n", "").Replace(value)
	value = strings.Join(strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == '\t' }), " ")
	return strings.ToLower(strings.TrimSpace(name)) + ":" + strings.TrimSpace(value) + "\r\n"
}

func canonHeader(raw, mode string) string {
	if mode == "simple" {
		if !strings.HasSuffix(raw, "\r\n") {
			raw = strings.TrimSuffix(raw, "\n") + "\r\n"
		}
		return raw
	}
	return relaxedHeader(raw)
}

// bodyHash hashes the body in canonical form (RFC 6376 3.4.3 and 3.4.4).
func bodyHash(body io.Reader, mode string) ([]byte, error) {
	h := sha256.New()
	br := bufio.NewReader(body)
	blank := 0 // empty lines held back: trailing ones are dropped
	wrote := false
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			line = strings.TrimRight(line, "\r\n")
			if mode == "relaxed" {
				line = relaxedBodyLine(line)
			}
			if line == "" {
				blank++
			} else {
				for ; blank > 0; blank-- {
					io.WriteString(h, "\r\n")
				}
				io.WriteString(h, line+"\r\n")
				wrote = true
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if !wrote && mode == "simple" {
		io.WriteString(h, "\r\n")
	}
	return h.Sum(nil), nil
}

// relaxedBodyLine reduces runs of spaces and tabs to one space and drops them at
// the end of the line (RFC 6376 3.4.4).
func relaxedBodyLine(line string) string {
	var b strings.Builder
	ws := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == ' ' || c == '\t' {
			ws = true
			continue
		}
		if ws {
			b.WriteByte(' ')
			ws = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

type publicKey struct {
	rsa *rsa.PublicKey
	ed  ed25519.PublicKey
}

func (c *Check) key(ctx context.Context, domain, selector string) (*publicKey, error) {
	txts, err := c.Resolver.LookupTXT(ctx, selector+"._domainkey."+domain)
	if err != nil {
		return nil, fmt.Errorf("key %s._domainkey.%s: %w", selector, domain, err)
	}
	if len(txts) != 1 {
		return nil, fmt.Errorf("key %s._domainkey.%s: %d records", selector, domain, len(txts))
	}
	tags := parseTags(txts[0])
	p := stripWS(tags["p"])
	if p == "" {
		return nil, fmt.Errorf("key %s._domainkey.%s: revoked", selector, domain)
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("key %s._domainkey.%s: %w", selector, domain, err)
	}
	switch tags["k"] {
	case "", "rsa":
		if k, err := x509.ParsePKIXPublicKey(der); err == nil {
			if r, ok := k.(*rsa.PublicKey); ok {
				return &publicKey{rsa: r}, nil
			}
		}
		r, err := x509.ParsePKCS1PublicKey(der)
		if err != nil {
			return nil, fmt.Errorf("key %s._domainkey.%s: not an RSA key", selector, domain)
		}
		return &publicKey{rsa: r}, nil
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key %s._domainkey.%s: bad Ed25519 key", selector, domain)
		}
		return &publicKey{ed: ed25519.PublicKey(der)}, nil
	}
	return nil, fmt.Errorf("key %s._domainkey.%s: unknown key type %q", selector, domain, tags["k"])
}

// verifySig checks signature tags (a=, b=, d=, s=) over data.
func (c *Check) verifySig(ctx context.Context, tags map[string]string, data string) error {
	sig, err := base64.StdEncoding.DecodeString(stripWS(tags["b"]))
	if err != nil {
		return fmt.Errorf("malformed b=: %w", err)
	}
	k, err := c.key(ctx, tags["d"], tags["s"])
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(data))
	switch a := tags["a"]; {
	case a == "rsa-sha256" && k.rsa != nil:
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, sum[:], sig)
	case a == "ed25519-sha256" && k.ed != nil:
		if !ed25519.Verify(k.ed, sum[:], sig) {
			return errors.New("bad signature")
		}
		return nil
	default:
		return fmt.Errorf("algorithm %q does not fit the key", a)
	}
}

type arcSet struct {
	aar, ams, as *headerField
}

// ARC verifies the message's ARC chain (RFC 8617 5.2).
func (c *Check) ARC(ctx context.Context, raw io.Reader) ARCResult {
	fields, body, err := readFields(raw)
	if err != nil {
		return ARCResult{Result: "fail", Reason: err.Error()}
	}
	sets := map[int]*arcSet{}
	n := 0
	for i := range fields {
		f := &fields[i]
		var slot func(*arcSet) **headerField
		switch strings.ToLower(f.name) {
		case "arc-authentication-results":
			slot = func(s *arcSet) **headerField { return &s.aar }
		case "arc-message-signature":
			slot = func(s *arcSet) **headerField { return &s.ams }
		case "arc-seal":
			slot = func(s *arcSet) **headerField { return &s.as }
		default:
			continue
		}
		inst, err := instance(f.value())
		if err != nil || inst < 1 || inst > maxARCSets {
			return ARCResult{Result: "fail", Reason: fmt.Sprintf("%s: bad instance", f.name)}
		}
		s := sets[inst]
		if s == nil {
			s = &arcSet{}
			sets[inst] = s
		}
		if *slot(s) != nil {
			return ARCResult{Result: "fail", Reason: fmt.Sprintf("two %s with i=%d", f.name, inst)}
		}
		*slot(s) = f
		n = max(n, inst)
	}
	if n == 0 {
		return ARCResult{Result: "none"}
	}
	r := ARCResult{Result: "fail", Instance: n}
	for i := 1; i <= n; i++ {
		s := sets[i]
		if s == nil || s.aar == nil || s.ams == nil || s.as == nil {
			r.Reason = fmt.Sprintf("set %d incomplete", i)
			return r
		}
		cv := parseTags(s.as.value())["cv"]
		if (i == 1 && cv != "none") || (i > 1 && cv != "pass") {
			r.Reason = fmt.Sprintf("ARC-Seal i=%d cv=%s", i, cv)
			return r
		}
	}
	r.Sealer = strings.ToLower(parseTags(sets[n].as.value())["d"])
	_, oldest, _ := strings.Cut(sets[1].aar.value(), ";")
	r.OldestResults = strings.TrimSpace(oldest)
	if err := c.verifyAMS(ctx, fields, body, sets[n].ams); err != nil {
		r.Reason = fmt.Sprintf("ARC-Message-Signature i=%d: %v", n, err)
		return r
	}
	for i := n; i >= 1; i-- {
		var data strings.Builder
		for j := 1; j <= i; j++ {
			data.WriteString(relaxedHeader(sets[j].aar.raw))
			data.WriteString(relaxedHeader(sets[j].ams.raw))
			if j < i {
				data.WriteString(relaxedHeader(sets[j].as.raw))
			}
		}
		data.WriteString(strings.TrimSuffix(relaxedHeader(withoutB(sets[i].as.raw)), "\r\n"))
		if err := c.verifySig(ctx, parseTags(sets[i].as.value()), data.String()); err != nil {
			r.Reason = fmt.Sprintf("ARC-Seal i=%d: %v", i, err)
			return r
		}
	}
	r.Result, r.Reason = "pass", ""
	return r
}

func instance(value string) (int, error) {
	for _, part := range strings.Split(value, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == "i" {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, errors.New("no i= tag")
}

// verifyAMS checks an ARC-Message-Signature as DKIM checks a signature: the body
// hash, then the signature over the fields its h= names, newest first.
func (c *Check) verifyAMS(ctx context.Context, fields []headerField, body io.Reader, ams *headerField) error {
	tags := parseTags(ams.value())
	hc, bc, _ := strings.Cut(tags["c"], "/")
	if hc == "" {
		hc = "simple"
	}
	if bc == "" {
		bc = "simple"
	}
	bh, err := bodyHash(body, bc)
	if err != nil {
		return err
	}
	if base64.StdEncoding.EncodeToString(bh) != stripWS(tags["bh"]) {
		return errors.New("body hash mismatch")
	}
	used := map[int]bool{}
	var data strings.Builder
	for _, name := range strings.Split(tags["h"], ":") {
		name = strings.TrimSpace(name)
		for i := len(fields) - 1; i >= 0; i-- {
			if !used[i] && strings.EqualFold(fields[i].name, name) {
				used[i] = true
				data.WriteString(canonHeader(fields[i].raw, hc))
				break
			}
		}
	}
	data.WriteString(strings.TrimSuffix(canonHeader(withoutB(ams.raw), hc), "\r\n"))
	return c.verifySig(ctx, tags, data.String())
}

// oldestDMARCPass reports whether the first intermediary found DMARC passing.
func (r ARCResult) oldestDMARCPass() bool {
	_, results, err := authres.Parse(r.OldestResults) // "authserv-id; method=result …"
	if err != nil {
		return false
	}
	for _, res := range results {
		if d, ok := res.(*authres.DMARCResult); ok && d.Value == authres.ResultPass {
			return true
		}
	}
	return false
}
