package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSubjectTagThroughPostfix: with subject_tag, spam that is delivered
// arrives through the real Postfix with the tag in front of its Subject, and
// ham with its Subject as sent.
func TestSubjectTagThroughPostfix(t *testing.T) {
	e := newEnv(t)
	rules := t.TempDir()
	if err := os.WriteFile(filepath.Join(rules, "local.cf"), []byte("body T_OFFER /miracle offer/\nscore T_OFFER 6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := "rules_paths = [\"default\", \"" + rules + "\"]\nsubject_tag = \"[SPAM _SCORE_]\"\n[milter]\nshutdown_timeout = \"5s\"\n"
	if err := os.WriteFile(e.cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	e.start()
	send := func(subject, marker, body string) string {
		raw := "From: sender@example.org\r\nTo: rcpt@example.com\r\nSubject: " + subject + "\r\nMessage-ID: <" + marker + "@example.org>\r\n\r\n" + body + "\r\n" + marker + "\r\n"
		code, text := sendSMTP(t, e.pf.SMTPAddr, "sender@example.org", []string{"rcpt@example.com"}, raw)
		return delivered(t, e.sink, marker, code, text).Data
	}
	tagged := regexp.MustCompile(`\nSubject: \[SPAM [0-9]+\.[0-9]\] =\?UTF-8\?Q\?Gr=C3=BC=C3=9Fe\?= and an offer\r\n`)
	if got := send("=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= and an offer", "tag-spam", "a miracle offer"); !tagged.MatchString(got) {
		t.Errorf("spam's Subject not tagged:\n%.800s", got)
	}
	if got := send("lunch", "tag-ham", "see you"); !strings.Contains(got, "\nSubject: lunch\r\n") || strings.Contains(got, "[SPAM") {
		t.Errorf("ham's Subject changed:\n%.800s", got)
	}
}
