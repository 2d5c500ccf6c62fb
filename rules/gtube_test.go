package rules

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/scan"
)

func TestGTUBE(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("hello " + GTUBEString + "\r\n"))
	tests := []struct {
		name string
		raw  string
		hit  bool
	}{
		{"plain body", "Subject: x\r\n\r\n" + GTUBEString + "\r\n", true},
		{"in the subject", "Subject: " + GTUBEString + "\r\n\r\nbody\r\n", true},
		{"base64 body", "Content-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n", true},
		{"only in a header that is not the subject", "X-Test: " + GTUBEString + "\r\n\r\nbody\r\n", false},
		{"clean", "Subject: x\r\n\r\nhello\r\n", false},
		{"mangled", "Subject: x\r\n\r\n" + strings.Replace(GTUBEString, "GTUBE", "GTUB3", 1) + "\r\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parsed, err := scan.Parse(strings.NewReader(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			r := Default().Check(context.Background(), &filter.Message{Parsed: parsed})
			hit := false
			for _, t := range r.Tests {
				hit = hit || (t.Name == "GTUBE" && t.Score == 1000 && t.NoAutolearn)
			}
			if hit != tc.hit {
				t.Errorf("tests %+v, want hit %v", r.Tests, tc.hit)
			}
		})
	}
}
