package rules

import (
	"path/filepath"
	"strings"
	"testing"
)

// The Subject lists as SpamAssassin's WelcomeListSubject plugin answers: each
// case was run through `spamassassin -L -t --cf=LINE` with the stock rules
// (SUBJECT_IN_WELCOMELIST, SUBJECT_IN_BLOCKLIST); one differs on purpose.
func TestSubjectLists(t *testing.T) {
	tests := []struct {
		line, subject string
		want          bool
	}{
		{"blocklist_subject Make Money Fast", "MAKE MONEY FAST now", true},
		{"blocklist_subject Make Money Fast", "make money, fast", false},
		{"welcomelist_subject [Bug *]", "Re: [Bug 1234] crash on start", true},
		{"welcomelist_subject [Bug *]", "Bug 1234 crash", false},
		{"blocklist_subject a?c", "xabcx", true},
		{"blocklist_subject a?c", "ac", false},
		{"blocklist_subject free  money", "free money", false},
		{"blocklist_subject free  money", "Free  Money!", true},
		{"blocklist_subject 50% off (today)", "Get 50% OFF (today)!", true},
		{"blocklist_subject 50% off (today)", "Get 50% OFF today!", false},
		{`blocklist_subject order \#123`, "Your order #123 shipped", true},
		{"blocklist_subject order #123", "Your order shipped", true}, // "order ": the rest is a comment
		{"blocklist_subject cheap*pills", "cheap generic pills", true},
		{"blacklist_subject cheap**pills", "cheappills", true},
		{"whitelist_subject [ticket", "[TICKET 7] printer", true},
		{"blocklist_subject grösse", "=?UTF-8?B?Z3LDtnNzZSBkZWFs?=", true}, // "grösse deal", decoded
		// "GRÖSSE deal": SpamAssassin lower-cases the decoded bytes, so Ö stays
		// and it misses; Postern lower-cases characters, here as in every list.
		{"blocklist_subject grösse", "=?UTF-8?B?R1LDllNTRSBkZWFs?=", true},
		{"blocklist_subject make money fast", "make money\n fast", true},
		{"blocklist_subject x", "", false},
	}
	for _, tt := range tests {
		word, _, _ := strings.Cut(tt.line, " ")
		call := "check_subject_in_blocklist()"
		if strings.Contains(word, "white") || strings.Contains(word, "welcome") {
			call = "check_subject_in_welcomelist()"
		}
		msg := "From: a@example.org\nTo: b@example.net\nSubject: " + tt.subject + "\n\nx\n"
		if got := evalHits(t, call, tt.line, msg); got != tt.want {
			t.Errorf("%q, Subject %q: %v, want %v", tt.line, tt.subject, got, tt.want)
		}
	}
}

// With the stock rules, the plugin's ifplugin block is read: a listed Subject
// scores SUBJECT_IN_BLOCKLIST's 100.
func TestStockSubjectLists(t *testing.T) {
	stockRules(t, false) // (skips without them)
	dir := writeRules(t, map[string]string{"local.cf": "blocklist_subject make money fast\nwelcomelist_subject [ticket *]\n"})
	s, problems := Load("/usr/share/spamassassin", filepath.Join(dir, "local.cf"))
	if errs := Errors(problems); len(errs) > 0 {
		t.Fatal(errs)
	}
	for subject, want := range map[string]string{"Make money FAST": "SUBJECT_IN_BLOCKLIST", "Re: [Ticket #7] printer": "SUBJECT_IN_WELCOMELIST"} {
		hits, err := s.Eval(msgOf(t, "From: a@example.org\nTo: b@example.net\nSubject: "+subject+"\n\nx\n"))
		if err != nil {
			t.Fatal(err)
		}
		score := 0.0
		for _, h := range hits {
			if h.Rule.Name == want {
				score = h.Scores[1]
			}
		}
		if score != 100 && score != -100 {
			t.Errorf("Subject %q: %s scores %v, want ±100", subject, want, score)
		}
	}
}
