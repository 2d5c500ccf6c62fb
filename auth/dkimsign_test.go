package auth

import (
	"bytes"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

type dkimCanon string

const (
	dkimSimple  dkimCanon = "simple"
	dkimRelaxed dkimCanon = "relaxed"
)

func dkimSign(t *testing.T, raw, domain, selector string, key *rsa.PrivateKey, c dkimCanon) string {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(raw), &dkim.SignOptions{Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: dkim.Canonicalization(c), BodyCanonicalization: dkim.Canonicalization(c)})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}
