package clamav

// Tests against a real clamd, started privately with a signature file the test writes.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/testutil"
	"github.com/postern/postern/spool"
)

func TestRealClamd(t *testing.T) {
	clamd := testutil.StartClamd(t, "")
	for _, addr := range []string{clamd.TCP, clamd.Unix} {
		t.Run(addr[:3], func(t *testing.T) {
			c, err := New(addr, 4)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			for name, r := range map[string]io.Reader{
				"plain":           strings.NewReader(testutil.EICAR),
				"data with EOF":   iotest.DataErrReader(strings.NewReader(testutil.EICAR)),
				"one byte a time": iotest.OneByteReader(strings.NewReader(testutil.EICAR)),
				"half reads":      iotest.HalfReader(strings.NewReader(testutil.EICAR)),
			} {
				sig, err := c.Scan(ctx, r)
				if err != nil || sig != testutil.EICARSignature {
					t.Errorf("%s: Scan = %q, %v", name, sig, err)
				}
			}
			if sig, err := c.Scan(ctx, strings.NewReader("just text")); err != nil || sig != "" {
				t.Errorf("clean: Scan = %q, %v", sig, err)
			}
		})
	}
}

// Over StreamMaxLength, clamd's own answer is reported, not a broken pipe.
func TestRealClamdStreamMaxLength(t *testing.T) {
	clamd := testutil.StartClamd(t, "1M")
	c, _ := New(clamd.TCP, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Scan(ctx, strings.NewReader(strings.Repeat("x", 3<<20)))
	if !errors.Is(err, ErrSizeLimit) {
		t.Fatalf("Scan of 3 MB with StreamMaxLength 1M = %v, want ErrSizeLimit", err)
	}
	c.MaxStream = 1 << 20
	if _, err := c.Scan(ctx, strings.NewReader(strings.Repeat("x", 3<<20))); !errors.Is(err, ErrSizeLimit) {
		t.Fatalf("with MaxStream: %v, want ErrSizeLimit", err)
	}
}

func checkMessage(t *testing.T, chk *Check, raw string) filter.Result {
	t.Helper()
	sp := spool.FromBytes([]byte(raw))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return chk.Check(ctx, &filter.Message{Raw: sp, Size: sp.Size()})
}

func TestCheckWithRealClamd(t *testing.T) {
	clamd := testutil.StartClamd(t, "")
	c, _ := New(clamd.TCP, 4)
	eicar := []byte(testutil.EICAR)
	tests := []struct {
		name  string
		raw   string
		virus bool
		part  string
		// partWhole, when set, is where the virus is found with the whole message
		// scanned: a part without a transfer encoding is scanned there only.
		partWhole string
	}{
		{"base64 attachment", testutil.WithAttachment("b64", "eicar.com", "application/octet-stream", eicar), true, `"eicar.com" (application/octet-stream)`, ""},
		{"inside a zip", testutil.WithAttachment("zip", "eicar.zip", "application/zip", testutil.Zip("eicar.com", eicar)), true, `"eicar.zip" (application/zip)`, ""},
		{"inside a forwarded message", testutil.Forwarded("fwd", testutil.WithAttachment("inner", "eicar.com", "application/octet-stream", eicar)), true, `"eicar.com" (application/octet-stream)`, ""},
		{"in quoted-printable text", testutil.QuotedPrintable("qp", "look: "+testutil.EICAR+" = end"), true, "text/plain part", ""},
		{"in plain text, no transfer encoding", testutil.Forwarded("plain", "Subject: inner\r\n\r\nlook: "+testutil.EICAR+"\r\n"), true, "text/plain part", wholeMessage},
		{"clean multipart", testutil.CleanMultipart("clean"), false, "", ""},
	}
	for _, whole := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/whole=%v", tc.name, whole), func(t *testing.T) {
				r := checkMessage(t, &Check{Clamd: c, WholeMessage: whole, Timeout: 10 * time.Second}, tc.raw)
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				if tc.virus {
					part := tc.part
					if whole && tc.partWhole != "" {
						part = tc.partWhole
					}
					if r.Virus != testutil.EICARSignature || r.VirusPart != part {
						t.Errorf("virus %q in %q, want %q in %q", r.Virus, r.VirusPart, testutil.EICARSignature, part)
					}
					return
				}
				if r.Virus != "" || len(r.Headers) != 2 || r.Headers[1].Value != "Clean" {
					t.Errorf("clean message: %+v", r)
				}
			})
		}
	}
}

func TestCheckFailures(t *testing.T) {
	clamd := testutil.StartClamd(t, "1M")
	silent := testutil.SilentServer(t)
	big := testutil.Sized("big", 2<<20)
	tests := []struct {
		name        string
		addr        string
		raw         string
		acceptError bool
		acceptLarge bool
		wantErr     bool
		status      string
	}{
		{"clamd never answers", silent, testutil.CleanMultipart("x"), false, false, true, ""},
		{"clamd never answers, accept", silent, testutil.CleanMultipart("x"), true, false, false, "Unscanned ("},
		{"part over StreamMaxLength, tempfail", clamd.TCP, big, false, false, true, ""},
		{"part over StreamMaxLength, accept", clamd.TCP, big, false, true, false, "Unscanned (exceeds StreamMaxLength"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := New(tc.addr, 4)
			chk := &Check{Clamd: c, WholeMessage: true, Timeout: 300 * time.Millisecond,
				AcceptOnError: tc.acceptError, AcceptTooLarge: tc.acceptLarge}
			r := checkMessage(t, chk, tc.raw)
			if (r.Err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", r.Err, tc.wantErr)
			}
			if tc.status != "" && (len(r.Headers) != 2 || !strings.HasPrefix(r.Headers[1].Value, tc.status)) {
				t.Errorf("headers %+v, want X-Virus-Status %s…", r.Headers, tc.status)
			}
		})
	}
	t.Run("clamd killed", func(t *testing.T) {
		c, _ := New(clamd.TCP, 4)
		clamd.Kill()
		r := checkMessage(t, &Check{Clamd: c, Timeout: time.Second}, testutil.CleanMultipart("x"))
		if r.Err == nil {
			t.Fatalf("no error with clamd down: %+v", r)
		}
	})
}

// A real clamd answers INSTREAM commands in a session, and a session it closed
// (restarted here) is not used: the next scan connects again and succeeds.
func TestRealClamdSession(t *testing.T) {
	clamd := testutil.StartClamd(t, "")
	c, _ := New(clamd.TCP, 2)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	local := func() net.Addr {
		s := <-c.idle
		c.idle <- s
		return s.conn.LocalAddr()
	}
	if sig, err := c.Scan(ctx, strings.NewReader(testutil.EICAR)); err != nil || sig != testutil.EICARSignature {
		t.Fatalf("first scan: %q, %v", sig, err)
	}
	first := local()
	for i := 0; i < 3; i++ {
		if sig, err := c.Scan(ctx, strings.NewReader("clean text")); err != nil || sig != "" {
			t.Fatalf("scan %d: %q, %v", i, sig, err)
		}
	}
	if again := local(); again.String() != first.String() {
		t.Fatalf("a new connection (%v, then %v) where the session should have been used", first, again)
	}
	clamd.Kill()
	clamd.Restart(t)
	if sig, err := c.Scan(ctx, strings.NewReader(testutil.EICAR)); err != nil || sig != testutil.EICARSignature {
		t.Fatalf("after clamd restarted: %q, %v", sig, err)
	}
	if after := local(); after.String() == first.String() {
		t.Fatalf("the session clamd closed was used again")
	}
}
