package filter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/recipients"
	"github.com/postern/postern/spool"
)

type fixed struct {
	name string
	r    Result
}

func (f fixed) Name() string                           { return f.name }
func (f fixed) Check(context.Context, *Message) Result { return f.r }

type panics struct{}

func (panics) Name() string                           { return "panics" }
func (panics) Check(context.Context, *Message) Result { panic("bug") }

type hangs struct{ release chan struct{} }

func (hangs) Name() string { return "hangs" }
func (h hangs) Check(context.Context, *Message) Result {
	<-h.release
	return Result{}
}

func policy() Policy {
	return Policy{
		RequiredScore: 5, RejectScore: 15, Timeout: time.Second, ReportHeader: "spam", Version: "postern-test",
		Replies: ReplyTexts{Spam: "spam (ref {ref})", Virus: "virus {virus} (ref {ref})",
			TempFail: "try later (ref {ref})", TooLarge: "too large (ref {ref})"},
	}
}

func run(p *Pipeline) Verdict {
	sp := spool.FromBytes([]byte("Subject: hi\r\n\r\nbody\r\n"))
	return p.Run(context.Background(), nil, sp, sp.Size(), "REF")
}

func TestVerdicts(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	tests := []struct {
		name          string
		checks        []Check
		onErrorAccept bool
		action        Action
		reason        string
		score         float64
		reply         string
		skipped       bool
	}{
		{"no checks", nil, false, Accept, ReasonClean, 0, "", false},
		{"ham", []Check{fixed{"r", Result{Tests: []Test{{Name: "A", Score: 1.5}}}}}, false, Accept, ReasonClean, 1.5, "", false},
		{"negative score", []Check{fixed{"r", Result{Tests: []Test{{Name: "A", Score: -2}}}}}, false, Accept, ReasonClean, -2, "", false},
		{"spam, tagged", []Check{fixed{"r", Result{Tests: []Test{{Name: "A", Score: 3}, {Name: "B", Score: 2}}}}}, false, Accept, ReasonSpam, 5, "", false},
		{"spam from two checks, rejected", []Check{
			fixed{"r", Result{Tests: []Test{{Name: "A", Score: 10}}}},
			fixed{"b", Result{Tests: []Test{{Name: "BAYES_99", Score: 5}}}},
		}, false, Reject, ReasonSpam, 15, "550 5.7.1 spam (ref REF)", false},
		{"virus beats score", []Check{fixed{"av", Result{Virus: "Eicar-Test"}}}, false, Reject, ReasonVirus, 0, "554 5.7.1 virus Eicar-Test (ref REF)", false},
		{"error tempfails", []Check{fixed{"av", Result{Err: errors.New("down")}}}, false, TempFail, ReasonError, 0, "451 4.7.1 try later (ref REF)", false},
		{"error with on_error=accept", []Check{
			fixed{"av", Result{Err: errors.New("down")}},
			fixed{"r", Result{Tests: []Test{{Name: "A", Score: 1}}}},
		}, true, Accept, ReasonClean, 1, "", true},
		{"failed check's tests ignored", []Check{fixed{"r", Result{Tests: []Test{{Name: "A", Score: 100}}, Err: errors.New("half done")}}}, true, Accept, ReasonClean, 0, "", true},
		{"panic tempfails", []Check{panics{}}, false, TempFail, ReasonError, 0, "451 4.7.1 try later (ref REF)", false},
		{"deadline tempfails", []Check{hangs{release}}, false, TempFail, ReasonError, 0, "451 4.7.1 try later (ref REF)", false},
		{"deadline with on_error=accept", []Check{hangs{release}}, true, Accept, ReasonClean, 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Pipeline{Checks: tc.checks, Policy: policy()}
			p.Timeout = 100 * time.Millisecond
			p.OnErrorAccept = tc.onErrorAccept
			v := run(p)
			if v.Action != tc.action || v.Reason != tc.reason || v.Score != tc.score {
				t.Fatalf("verdict %s/%s/%.1f, want %s/%s/%.1f (errors %v)", v.Action, v.Reason, v.Score, tc.action, tc.reason, tc.score, v.Errors)
			}
			if tc.action != Accept && v.Reply.String() != tc.reply {
				t.Errorf("reply %q, want %q", v.Reply, tc.reply)
			}
			if (len(v.Skipped) > 0) != tc.skipped {
				t.Errorf("skipped %v", v.Skipped)
			}
			if tc.action == TempFail && len(v.Errors) == 0 {
				t.Error("tempfail without the error for the log")
			}
			if tc.action == Accept {
				_, skippedHeader := header(v.Headers, "X-Postern-Skipped")
				if skippedHeader != tc.skipped {
					t.Errorf("X-Postern-Skipped present = %v", skippedHeader)
				}
				if _, ok := header(v.Headers, "X-Spam-Status"); !ok {
					t.Error("no X-Spam-Status on an accepted, scanned message")
				}
			}
		})
	}
}

// TestVerdictDetail holds what the quarantine keeps of why a check refused a
// message: the infected part, the refusal's own detail, nothing for a score.
func TestVerdictDetail(t *testing.T) {
	virus := fixed{"av", Result{Virus: "Eicar-Test", VirusPart: `"eicar.com" (application/octet-stream)`}}
	banned := fixed{"banned", Result{Refuse: &Refusal{Reason: ReasonBanned, Text: "no (ref {ref})", Detail: `"a.exe": extension .exe`}}}
	spam := fixed{"r", Result{Tests: []Test{{Name: "A", Score: 20}}}}
	tests := []struct {
		name   string
		checks []Check
		reason string
		detail string
	}{
		{"virus", []Check{virus}, ReasonVirus, `"eicar.com" (application/octet-stream)`},
		{"refused", []Check{banned, spam}, ReasonBanned, `"a.exe": extension .exe`},
		{"virus and refused: the virus", []Check{banned, virus}, ReasonVirus, `"eicar.com" (application/octet-stream)`},
		{"spam", []Check{spam}, ReasonSpam, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := run(&Pipeline{Checks: tc.checks, Policy: policy()})
			if v.Action != Reject || v.Reason != tc.reason || v.Detail != tc.detail {
				t.Errorf("verdict %s/%s detail %q, want reject/%s %q", v.Action, v.Reason, v.Detail, tc.reason, tc.detail)
			}
		})
	}
}

// TestSubjectTag: the tag is for spam that is delivered, with its score.
func TestSubjectTag(t *testing.T) {
	tests := []struct {
		name  string
		score float64
		env   Envelope
		want  string
	}{
		{"ham", 4.9, Envelope{}, ""},
		{"spam, delivered", 5, Envelope{}, "[SPAM 5.0/5.0]"},
		{"spam, refused", 15, Envelope{}, ""},
		{"spam to a role account, delivered", 20, Envelope{NoReject: true}, "[SPAM 20.0/5.0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Pipeline{Checks: []Check{fixed{"r", Result{Tests: []Test{{Name: "A", Score: tc.score}}}}}, Policy: policy()}
			p.SubjectTag = "[SPAM _SCORE_/_REQD_]"
			raw := "Subject: x\r\n\r\nx\r\n"
			v := p.Run(context.Background(), &tc.env, strings.NewReader(raw), int64(len(raw)), "REF")
			if v.SubjectTag != tc.want {
				t.Errorf("tag %q, want %q", v.SubjectTag, tc.want)
			}
		})
	}
}

// TestRecipientSettings: a recipient's [recipients] entry replaces the scores
// and the tag it sets, and keeps the global values of those it leaves out.
func TestRecipientSettings(t *testing.T) {
	num := func(f float64) *float64 { return &f }
	tag := "[lenient]"
	tab, err := recipients.New(map[string]recipients.Settings{
		"@lenient.example":    {RejectScore: num(1000), SubjectTag: &tag},
		"boss@strict.example": {RequiredScore: num(3), RejectScore: num(6)},
		"@notag.example":      {SubjectTag: new(string)},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		score    float64
		rcpts    []string
		action   Action
		spam     bool
		required float64
		tag      string
		settings string
	}{
		{"no entry: refused at 15", 20, []string{"u@example.com"}, Reject, true, 5, "", ""},
		{"spam lover: tagged", 20, []string{"<u@lenient.example>"}, Accept, true, 5, "[lenient]", "@lenient.example"},
		{"strict: spam at 3", 4, []string{"boss@strict.example"}, Accept, true, 3, "[SPAM]", "boss@strict.example"},
		{"strict: refused at 6", 7, []string{"boss+x@strict.example"}, Reject, true, 3, "", "boss@strict.example"},
		{"the first recipient's entry decides", 20, []string{"a@lenient.example", "u@example.com"}, Accept, true, 5, "[lenient]", "@lenient.example"},
		{"an empty tag: no tag", 6, []string{"u@notag.example"}, Accept, true, 5, "", "@notag.example"},
		{"no recipient (postern check)", 20, nil, Reject, true, 5, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Pipeline{Checks: []Check{fixed{"r", Result{Tests: []Test{{Name: "A", Score: tc.score}}}}}, Policy: policy()}
			p.SubjectTag, p.Recipients = "[SPAM]", tab
			raw := "Subject: x\r\n\r\nx\r\n"
			v := p.Run(context.Background(), &Envelope{Rcpts: tc.rcpts}, strings.NewReader(raw), int64(len(raw)), "REF")
			if v.Action != tc.action || v.Spam != tc.spam || v.Required != tc.required || v.SubjectTag != tc.tag || v.Settings != tc.settings {
				t.Errorf("got %s spam=%v required=%.1f tag=%q settings=%q", v.Action, v.Spam, v.Required, v.SubjectTag, v.Settings)
			}
			if st, _ := header(v.Headers, "X-Spam-Status"); tc.action == Accept && !strings.Contains(st, fmt.Sprintf("required=%.1f", tc.required)) {
				t.Errorf("X-Spam-Status %q", st)
			}
		})
	}
}

// expired is a context whose deadline has passed but whose Done never fires in a
// select: the order in which runChecks sees a result and the deadline is then fixed.
type expired struct{ context.Context }

func (expired) Done() <-chan struct{} { return nil }
func (expired) Err() error            { return context.DeadlineExceeded }

// A check that returns after the deadline may have stopped short without saying so
// (a virus scan that skipped the parts left): its result counts as a failure.
func TestResultAfterDeadlineFails(t *testing.T) {
	p := &Pipeline{Checks: []Check{fixed{"av", Result{Headers: []Header{{Name: "X-Virus-Status", Value: "Clean"}}}}}, Policy: policy()}
	rs := p.runChecks(expired{context.Background()}, &Message{}, time.Now(), false, false)
	if len(rs) != 1 || !errors.Is(rs[0].Err, context.DeadlineExceeded) {
		t.Fatalf("results %+v, want the deadline as the check's error", rs)
	}
	if v := p.decide("REF", &Envelope{}, rs, ""); v.Action != TempFail {
		t.Errorf("verdict %s, want tempfail", v.Action)
	}
}

type sleeps struct{ d time.Duration }

func (sleeps) Name() string { return "sleeps" }
func (s sleeps) Check(context.Context, *Message) Result {
	time.Sleep(s.d)
	return Result{}
}

// The verdict says how long the parse and each check took, in the pipeline's
// order, a check that missed the deadline counted up to it: the log's
// check_times, which tell an operator which check a slow message waited for.
func TestVerdictTimes(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	pol := policy()
	pol.Timeout = 50 * time.Millisecond
	own := Result{Times: []Timing{{"r_wait", 3 * time.Millisecond}}} // a part of its time it measured itself
	p := &Pipeline{Checks: []Check{sleeps{20 * time.Millisecond}, fixed{"r", own}, hangs{release}}, Policy: pol}
	v := run(p)
	var steps []string
	for _, tm := range v.Times {
		steps = append(steps, tm.Step)
	}
	if got := strings.Join(steps, " "); got != "parse sleeps r r_wait hangs" {
		t.Fatalf("steps %q, want parse sleeps r r_wait hangs", got)
	}
	if d := v.Times[3].Duration; d != 3*time.Millisecond {
		t.Errorf("r_wait %s, want the 3ms r reported", d)
	}
	if d := v.Times[1].Duration; d < 20*time.Millisecond {
		t.Errorf("sleeps took %s, want at least its 20ms", d)
	}
	// (The deadline runs from before the parse.)
	if d := v.Times[4].Duration; d+v.Times[0].Duration < pol.Timeout {
		t.Errorf("hangs counted %s after a parse of %s, want up to the deadline (%s)", d, v.Times[0].Duration, pol.Timeout)
	}
}

// An allow-listed message's checks that did not run have no time in the verdict
// (a 0 would read as a check that ran in no time); the virus check has. The
// same for a message over scan_limit.
func TestVerdictTimesAllowListed(t *testing.T) {
	virus := virusCheck{fixed{"av", Result{}}}
	sp := spool.FromBytes([]byte("Subject: hi\r\n\r\nbody\r\n"))
	for _, tc := range []struct {
		name  string
		env   Envelope
		limit int64
	}{{"allow-listed", Envelope{SkipScoring: true}, 0}, {"over scan_limit", Envelope{}, 10}} {
		p := &Pipeline{Checks: []Check{fixed{"r", Result{}}, virus}, Policy: policy()}
		p.ScanLimit, p.AcceptTooLarge = tc.limit, true
		v := p.Run(context.Background(), &tc.env, sp, sp.Size(), "REF")
		var steps []string
		for _, tm := range v.Times {
			steps = append(steps, tm.Step)
		}
		if got := strings.Join(steps, " "); got != "parse av" {
			t.Errorf("%s: steps %q, want parse av", tc.name, got)
		}
	}
}

func header(hs []Header, name string) (string, bool) {
	for _, h := range hs {
		if h.Name == name {
			return h.Value, true
		}
	}
	return "", false
}

func TestSpamHeaders(t *testing.T) {
	many := make([]Test, 0, 12)
	for _, n := range []string{"BAYES_99", "HTML_MESSAGE", "MIME_HTML_ONLY", "RDNS_NONE", "URIBL_BLOCKED", "FREEMAIL_FROM", "SUBJ_ALL_CAPS", "DATE_IN_FUTURE_06_12"} {
		many = append(many, Test{Name: n, Score: 1.1, Description: "d " + n})
	}
	tests := []struct {
		name   string
		tests  []Test
		report string
		want   map[string]string // header → value (folds undone); "-" means absent
	}{
		{"ham", nil, "spam", map[string]string{
			"X-Spam-Flag": "-", "X-Spam-Level": "", "X-Spam-Report": "-",
			"X-Spam-Status": "No, score=0.0 required=5.0 tests=none autolearn=no version=postern-test",
		}},
		{"gtube", []Test{{Name: "GTUBE", Score: 1000, Description: "BODY: Generic Test"}}, "spam", map[string]string{
			"X-Spam-Flag":   "YES",
			"X-Spam-Level":  strings.Repeat("*", 50),
			"X-Spam-Status": "Yes, score=1000.0 required=5.0 tests=GTUBE autolearn=no version=postern-test",
			"X-Spam-Report": "* 1000.0 GTUBE BODY: Generic Test",
		}},
		{"ham with report always", []Test{{Name: "A", Score: 1.9, Description: "x"}}, "always", map[string]string{
			"X-Spam-Level": "*", "X-Spam-Report": "*   1.9 A x",
		}},
		{"report never", []Test{{Name: "A", Score: 9, Description: "x"}}, "never", map[string]string{
			"X-Spam-Report": "-",
		}},
		{"long test list folds", many, "never", map[string]string{
			"X-Spam-Status": "Yes, score=8.8 required=5.0 tests=BAYES_99,DATE_IN_FUTURE_06_12,FREEMAIL_FROM,HTML_MESSAGE,MIME_HTML_ONLY,RDNS_NONE,SUBJ_ALL_CAPS,URIBL_BLOCKED autolearn=no version=postern-test",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Pipeline{Checks: []Check{fixed{"r", Result{Tests: tc.tests}}}, Policy: policy()}
			p.RejectScore = 10000
			p.ReportHeader = tc.report
			v := run(p)
			for name, want := range tc.want {
				got, ok := header(v.Headers, name)
				if want == "-" {
					if ok {
						t.Errorf("%s present: %q", name, got)
					}
					continue
				}
				for _, line := range strings.Split(got, "\n\t") {
					if len(line) > 78-len(name)-2 && name == "X-Spam-Status" {
						t.Errorf("%s line too long: %q", name, line)
					}
				}
				// Unfold as RFC 5322 does (drop the line break), then fold spaces.
				unfolded := strings.ReplaceAll(strings.ReplaceAll(got, ",\n\t", ","), "\n\t", " ")
				if !ok || unfolded != want {
					t.Errorf("%s = %q, want %q", name, unfolded, want)
				}
			}
		})
	}
}

func TestReplyTextSanitized(t *testing.T) {
	p := &Pipeline{Policy: policy()}
	p.Replies.Virus = "virus {virus} 100% (ref {ref})"
	got := p.text(p.Replies.Virus, "R1", "Evil\r\n250 OK\x00é")
	if got != "virus Evil250 OK 100 (ref R1)" {
		t.Errorf("text = %q", got)
	}
}

func TestNewRef(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		r := NewRef()
		if len(r) != 12 || strings.Trim(r, "abcdefghijkmnpqrstuvwxyz23456789") != "" || seen[r] {
			t.Fatalf("bad or repeated ref %q", r)
		}
		seen[r] = true
	}
}

func TestForeignHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Spam-Status": true, "x-spam-flag": true, "X-Spam-Checker-Version": true, "X-Postern-Skipped": true,
		"X-Spammy": false, "Subject": false, "X-Virus-Scanned": true, "x-virus-status": true, "X-Virus-Report": false,
	} {
		if ForeignHeader(name) != want {
			t.Errorf("ForeignHeader(%q) = %v", name, !want)
		}
	}
}

type learnRecorder struct {
	got   []bool
	bayes []*float64
}

func (l *learnRecorder) Autolearn(_ *Message, spam bool, bayes *float64) {
	l.got = append(l.got, spam)
	l.bayes = append(l.bayes, bayes)
}

func TestAutolearn(t *testing.T) {
	tests := []struct {
		name  string
		tests []Test
		bayes float64 // the Bayes check's probability; -1: none (cold start)
		veto  float64
		want  string
	}{
		// The rules decide (SpamAssassin's rule, without the veto).
		{"clear spam", []Test{{Name: "A", Score: 12}}, -1, 0, "spam"},
		{"spam only with Bayes: not learned", []Test{{Name: "A", Score: 9}, {Name: "BAYES_99", Score: 3.5, Bayes: true}}, 0.999, 0, "no"},
		{"clear ham", []Test{{Name: "A", Score: 0.1}}, -1, 0, "ham"},
		{"ham only with Bayes", []Test{{Name: "A", Score: 1}, {Name: "BAYES_00", Score: -1.9, Bayes: true}}, 0.001, 0, "no"},
		{"negative rules", []Test{{Name: "A", Score: -2}}, -1, 0, "ham"},
		{"in between", []Test{{Name: "A", Score: 5}}, -1, 0, "no"},
		{"noautolearn rule", []Test{{Name: "GTUBE", Score: 1000, NoAutolearn: true}}, -1, 0, "no"},
		{"no veto: ham by the rules, though Bayes is sure it is spam", []Test{{Name: "A", Score: 0}}, 1, 0, "ham"},
		// With the veto, Bayes can stop autolearning, never start it.
		{"ham by the rules, Bayes agrees", []Test{{Name: "A", Score: 0}}, 0.1, 0.2, "ham"},
		{"ham by the rules, Bayes unsure: vetoed", []Test{{Name: "A", Score: 0}}, 0.2, 0.2, "no"},
		{"ham by the rules, Bayes sure it is spam: vetoed", []Test{{Name: "A", Score: 0}}, 0.999, 0.2, "no"},
		{"spam by the rules, Bayes agrees", []Test{{Name: "A", Score: 12}}, 0.9, 0.2, "spam"},
		{"spam by the rules, Bayes unsure: vetoed", []Test{{Name: "A", Score: 12}}, 0.8, 0.2, "no"},
		{"spam by the rules, Bayes sure it is ham: vetoed", []Test{{Name: "A", Score: 12}}, 0.001, 0.2, "no"},
		{"cold start: nothing to agree with", []Test{{Name: "A", Score: 0}}, -1, 0.2, "no"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &learnRecorder{}
			checks := []Check{fixed{"r", Result{Tests: tc.tests}}}
			if tc.bayes >= 0 {
				prob := tc.bayes
				checks = append(checks, fixed{"bayes", Result{Bayes: &prob}})
			}
			p := &Pipeline{Checks: checks, Policy: policy()}
			p.RejectScore = 10000
			p.Learner, p.AutolearnSpam, p.AutolearnHam, p.AutolearnVeto = l, 12, 0.1, tc.veto
			v := run(p)
			if v.Autolearn != tc.want {
				t.Fatalf("autolearn = %q, want %q", v.Autolearn, tc.want)
			}
			if st, _ := header(v.Headers, "X-Spam-Status"); !strings.Contains(strings.ReplaceAll(st, "\n\t", " "), "autolearn="+tc.want+" ") {
				t.Errorf("X-Spam-Status %q", st)
			}
			if (tc.want == "no") != (len(l.got) == 0) || (len(l.got) == 1 && l.got[0] != (tc.want == "spam")) {
				t.Errorf("learner got %v", l.got)
			}
		})
	}
	// The learner is told the Bayes probability, to pass over what Bayes is sure of.
	prob := 0.002
	l := &learnRecorder{}
	p := &Pipeline{Checks: []Check{fixed{"r", Result{Tests: []Test{{Name: "A", Score: 0.1}}}}, fixed{"bayes", Result{Bayes: &prob}}}, Policy: policy()}
	p.RejectScore = 10000
	p.Learner, p.AutolearnSpam, p.AutolearnHam = l, 12, 0.1
	if run(p); len(l.bayes) != 1 || l.bayes[0] == nil || *l.bayes[0] != prob {
		t.Errorf("learner not given the Bayes probability: %v", l.bayes)
	}

	// Without a learner (postern check), nothing is learned and the header says no.
	p = &Pipeline{Checks: []Check{fixed{"r", Result{Tests: []Test{{Name: "A", Score: 20}}}}}, Policy: policy()}
	p.RejectScore = 10000
	if v := run(p); v.Autolearn != "no" {
		t.Errorf("without learner: %q", v.Autolearn)
	}
}

// authCheck is a check that authenticates the sender (filter.SenderAuthenticator).
type authCheck struct{ fixed }

func (authCheck) AuthenticatesSender() {}

type virusCheck struct{ fixed }

func (virusCheck) ScansForViruses() {}

func TestEnvelopeDecisions(t *testing.T) {
	spam := fixed{"rules", Result{Tests: []Test{{Name: "SPAMMY", Score: 20}}}}
	virus := virusCheck{fixed{"clamav", Result{Virus: "Eicar-Test-Signature"}}}
	clean := virusCheck{fixed{"clamav", Result{Headers: []Header{{Name: "X-Virus-Status", Value: "Clean"}}}}}
	banned := virusCheck{fixed{"banned", Result{Refuse: &Refusal{Reason: ReasonBanned, Text: "banned (ref {ref})"}}}}
	forged := authCheck{fixed{"auth", Result{Tests: []Test{{Name: "DMARC_REJECT", Score: 1.8}},
		Refuse: &Refusal{Reason: ReasonDMARC, Text: "DMARC (ref {ref})"}, Headers: []Header{{Name: "Authentication-Results", Value: "mx; dmarc=fail"}}}}}
	const raw = "Subject: hi\r\n\r\nbody\r\n"
	over := func(p *Policy) { p.ScanLimit, p.AcceptTooLarge = int64(len(raw))-1, true }
	tests := []struct {
		name   string
		env    Envelope
		pol    func(*Policy) // nil: policy()'s
		checks []Check
		action Action
		reason string
		score  float64
		header string // a header the verdict must carry
	}{
		{"spam rejected", Envelope{}, nil, []Check{spam, clean}, Reject, ReasonSpam, 20, ""},
		{"role account: spam tagged", Envelope{NoReject: true}, nil, []Check{spam, clean}, Accept, ReasonSpam, 20, "X-Spam-Flag"},
		{"role account: virus delivered marked", Envelope{NoReject: true}, nil, []Check{virus}, Accept, ReasonVirus, 0, "X-Virus-Status"},
		{"allow-listed: not scored", Envelope{SkipScoring: true}, nil, []Check{spam, clean}, Accept, ReasonClean, 0, "X-Virus-Status"},
		{"allow-listed: still scanned", Envelope{SkipScoring: true}, nil, []Check{spam, virus}, Reject, ReasonVirus, 0, ""},
		{"block-list points count", Envelope{PolicyTests: []Test{{Name: "RCVD_IN_ZEN", Score: 16}}}, nil, []Check{clean}, Reject, ReasonSpam, 16, ""},
		{"role account: a banned file delivered, the reason banned", Envelope{NoReject: true}, nil, []Check{spam, clean, banned}, Accept, ReasonBanned, 20, "X-Spam-Flag"},
		{"role account: a virus outranks a banned file", Envelope{NoReject: true}, nil, []Check{virus, banned}, Accept, ReasonVirus, 0, "X-Virus-Status"},
		{"a recipient who takes banned files: delivered, the reason banned", Envelope{}, nil, []Check{clean, fixed{"banned", Result{Marked: ReasonBanned}}}, Accept, ReasonBanned, 0, "X-Virus-Status"},
		{"over scan_limit: not scored, and said so", Envelope{}, over, []Check{spam, clean}, Accept, ReasonUnscanned, 0, "X-Postern-Skipped"},
		{"over scan_limit: still scanned", Envelope{}, over, []Check{spam, virus}, Reject, ReasonVirus, 0, ""},
		{"over scan_limit: banned files still refused", Envelope{}, over, []Check{spam, clean, banned}, Reject, ReasonBanned, 0, ""},
		{"over scan_limit: block-list points count", Envelope{PolicyTests: []Test{{Name: "RCVD_IN_ZEN", Score: 16}}}, over, []Check{spam, clean}, Reject, ReasonSpam, 16, ""},
		{"over scan_limit: a role account's virus delivered marked", Envelope{NoReject: true}, over, []Check{spam, virus}, Accept, ReasonVirus, 0, "X-Virus-Status"},
		{"over scan_limit: a DMARC reject forgery refused", Envelope{}, over, []Check{spam, clean, forged}, Reject, ReasonDMARC, 1.8, ""},
		{"over scan_limit: the sender's authentication delivered", Envelope{}, over, []Check{spam, clean, authCheck{fixed{"auth", Result{Tests: []Test{{Name: "DKIM_VALID", Score: -0.1}},
			Headers: []Header{{Name: "Authentication-Results", Value: "mx; dkim=pass"}}}}}}, Accept, ReasonUnscanned, -0.1, "Authentication-Results"},
		{"allow-listed: the sender not authenticated", Envelope{SkipScoring: true}, nil, []Check{spam, clean, forged}, Accept, ReasonClean, 0, "X-Virus-Status"},
		{"over scan_limit, on_too_large = tempfail", Envelope{}, func(p *Policy) { over(p); p.AcceptTooLarge = false }, []Check{spam, virus}, TempFail, ReasonUnscanned, 0, ""},
		{"at scan_limit: scored", Envelope{}, func(p *Policy) { p.ScanLimit = int64(len(raw)) }, []Check{spam, clean}, Reject, ReasonSpam, 20, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Pipeline{Checks: tc.checks, Policy: policy()}
			if tc.pol != nil {
				tc.pol(&p.Policy)
			}
			sp := spool.FromBytes([]byte(raw))
			env := tc.env
			v := p.Run(context.Background(), &env, sp, sp.Size(), "REF")
			if v.Action != tc.action || v.Reason != tc.reason || v.Score != tc.score {
				t.Fatalf("got %s %s %.1f, want %s %s %.1f", v.Action, v.Reason, v.Score, tc.action, tc.reason, tc.score)
			}
			if tc.header != "" {
				found := false
				for _, h := range v.Headers {
					found = found || h.Name == tc.header
				}
				if !found {
					t.Fatalf("no %s in %+v", tc.header, v.Headers)
				}
			}
			skipped, _ := header(v.Headers, "X-Postern-Skipped")
			if want := tc.pol != nil && p.ScanLimit < int64(len(raw)) && v.Action != TempFail; want != strings.Contains(skipped, fmt.Sprintf("content scoring (message size %d exceeds scan_limit %d)", len(raw), len(raw)-1)) {
				t.Errorf("X-Postern-Skipped %q", skipped)
			}
		})
	}
}
